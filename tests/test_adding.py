"""The adding problem at T = 50, trained by the exported NumPy script: the LSTM learns it
and the tanh RNN does not, and after training the RNN's gradient through time has faded by
orders of magnitude from the last step to the first while the LSTM's has not.

The test trains on main()'s data and settings (4,000 sequences of 50 steps, Adam at 0.01,
batch 64) for 10 of main()'s 30 epochs: with seed 0 the LSTM leaves the plateau of always
predicting the mean (MSE 1/6) at epoch 7 and is at 0.0016 by epoch 10 (with seed 1, at
epoch 9 and 0.0032)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.modelfile import import_model_file

# the matrices are small: a second BLAS thread only waits for the first (and on a busy
# machine makes the run slower)
ONE_THREAD = os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "adding_lstm.py")
EPOCHS = 10
MEAN_GUESS_MSE = 1 / 6  # the variance of the sum of two uniform values


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """main()'s data, and for each cell (loss, hidden states, trained params, history) from
    the exported script's run."""
    example = import_model_file(EXAMPLE)
    where = tmp_path_factory.mktemp("adding")
    data = example.data(4_000, 1_000, example.STEPS)
    train, held = data["train"], data["validation"]
    np.savez(where / "adding.npz", x=train["x"], y=train["y"], x_val=held["x"], y_val=held["y"])
    runs = {}
    for cell in ("rnn", "lstm"):
        loss, prediction, hidden = example.network(cell)
        path = gc.export(
            loss,
            where / f"train_{cell}.py",
            "adam",
            predictions=prediction,
            lr=0.01,
            batch_size=64,
            epochs=EPOCHS,
        )
        result = subprocess.run(
            [sys.executable, str(path), "adding.npz", "--quiet"]
            + ["--history", f"{cell}.json", "--save", f"{cell}.npz"],
            cwd=where,
            env=ONE_THREAD,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr
        history = json.loads((where / f"{cell}.json").read_text())
        params = dict(np.load(where / f"{cell}.npz"))
        runs[cell] = (loss, hidden, params, history)
    return data, runs


@pytest.mark.slow  # about 35 s of one core: 10 epochs of each cell at T = 50
def test_the_exported_script_trains_the_lstm_and_not_the_tanh_rnn(trained):
    _, runs = trained
    lstm, rnn = runs["lstm"][3]["val_loss"], runs["rnn"][3]["val_loss"]
    assert lstm[-1] <= 0.01, lstm
    assert lstm[0] > 0.9 * MEAN_GUESS_MSE  # it starts where the RNN stays
    assert min(rnn) > 0.9 * MEAN_GUESS_MSE, rnn  # no better than predicting the mean


@pytest.mark.slow  # shares the training above; the gradients themselves take 3 s
def test_after_training_the_rnn_gradient_has_faded_through_time_and_the_lstms_has_not(
    trained,
):
    data, runs = trained
    probe = {k: v[:256] for k, v in data["train"].items()}
    ratio = {}
    for cell, (loss, hidden, params, _) in runs.items():
        assert len(hidden) == 50
        grads = gc.evaluate(gc.grad(loss, hidden), params | probe)
        norms = np.array([np.linalg.norm(g) for g in grads])
        np.testing.assert_allclose(
            visual.gradient_norms_through_time(loss, hidden, params | probe), norms, rtol=1e-12
        )
        assert np.all(norms > 0)
        ratio[cell] = norms[0] / norms[-1]
    assert ratio["rnn"] < 1e-4, ratio  # more than four orders of magnitude over 49 Jacobians
    assert ratio["lstm"] > 1e-2, ratio  # the cell state carries it back
