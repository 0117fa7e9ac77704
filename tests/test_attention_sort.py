"""The sorting transformer of examples/attention_sort.py, trained by the exported NumPy
script on main()'s data for 2 epochs: >= 99 % of the held-out output tokens right."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.modelfile import import_model_file

# the matrices are small: a second BLAS thread only waits for the first (and on a busy
# machine makes the run slower)
ONE_THREAD = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "attention_sort.py")


def load(path):
    spec = importlib.util.spec_from_file_location(f"sort_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # about 8 s of one core: 2 epochs of 10,000 sequences
def test_the_exported_script_sorts_99_percent_of_held_out_tokens(tmp_path):
    example = import_model_file(EXAMPLE)
    data = example.data(10_000, 2_000)
    train, held = data["train"], data["validation"]
    np.savez(tmp_path / "sort.npz", x=train["x"], y=train["y"], x_val=held["x"], y_val=held["y"])
    loss, logits, _ = example.network()
    path = gc.export(
        loss, tmp_path / "train_sort.py", "adam", predictions=logits, lr=0.003, batch_size=64
    )
    result = subprocess.run(
        [sys.executable, str(path), "sort.npz", "--quiet", "--epochs", "2", "--save", "p.npz"],
        cwd=tmp_path,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    script = load(path)
    params = dict(np.load(tmp_path / "p.npz"))
    predicted = script.predict(params, script.init_state(0), {"x": held["x"]})
    assert predicted.shape == (2_000, 8, 10)
    accuracy = example.token_accuracy(predicted, held["y"])
    assert accuracy >= 0.99, accuracy
    # the untrained network is at chance, so the figure is the training's
    untrained = script.predict(script.init_params(0), script.init_state(0), {"x": held["x"]})
    assert example.token_accuracy(untrained, held["y"]) < 0.3
