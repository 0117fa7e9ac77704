"""The convolution layer, the digits as images, and the CNN example exported three ways:
the fast, readable and JAX modules compute one loss and gradient, and the fast script
trains it to 98.3 % on the held-out digits."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.datasets import digits
from graphc.modelfile import load_model

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "cnn_digits.py")


def load(path):
    spec = importlib.util.spec_from_file_location(f"cnn_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_conv_layer_makes_its_params_under_its_own_scope():
    x = gc.input("x", (None, 1, 8, 8))
    h = gc.conv(x, 4, 3, activation="relu")
    assert h.shape == (None, 4, 8, 8) and h.name == "conv1" and h.scope == "conv1"
    h2 = gc.conv(h, 6, (3, 2), stride=2, padding=1, activation="prelu")
    shapes = {p.name: p.shape for p in gc.params(h2)}
    assert shapes["conv2.W"] == (6, 4, 3, 2) and shapes["conv2.alpha"] == (6, 1, 1)
    assert h2.shape == (None, 6, 4, 5)
    signal = gc.conv(gc.input("s", (None, 2, 10)), 3, 5, name="audio")
    assert signal.shape == (None, 3, 10) and {p.name for p in gc.params(signal)} == {
        "audio.W",
        "audio.b",
    }


def test_a_conv_layer_names_what_is_wrong_with_its_input():
    with pytest.raises(gc.GraphError, match=r"test_cnn.py:\d+: gc.conv takes images"):
        gc.conv(gc.input("x", (None, 8, 8, 8, 1)), 4, 3)
    with pytest.raises(gc.GraphError, match="channel axis"):
        gc.conv(gc.input("x", (None, 8, 8)), 4, (3, 3))


def test_digits_as_images_are_the_flat_digits_reshaped():
    flat, images = digits(), digits(images=True)
    for split in ("train", "validation"):
        assert images[split]["x"].shape[1:] == (1, 8, 8)
        np.testing.assert_array_equal(images[split]["x"].reshape(-1, 64), flat[split]["x"])
        np.testing.assert_array_equal(images[split]["y"], flat[split]["y"])


@pytest.fixture(scope="module")
def example():
    return load_model(EXAMPLE)


def test_fast_readable_and_jax_modules_compute_one_loss_and_gradient(example, tmp_path):
    batch = {k: v[:16] for k, v in example.data["train"].items()}
    results = []
    for style, backend in (("fast", "numpy"), ("readable", "numpy"), ("fast", "jax")):
        if backend == "jax" and importlib.util.find_spec("jax") is None:
            continue
        path = tmp_path / f"cnn_{style}_{backend}.py"
        gc.export(example.loss, path, "adam", style=style, backend=backend)
        module = load(path)
        params = module.init_params(0)
        loss, grads = module.loss_and_grads(params, batch)[:2]
        results.append((float(loss), {k: np.asarray(v) for k, v in grads.items()}))
    (loss, grads), rest = results[0], results[1:]
    want = gc.evaluate(
        [example.loss, *gc.grad(example.loss, gc.params(example.loss))],
        load(tmp_path / "cnn_fast_numpy.py").init_params(0) | batch,
    )
    assert loss == pytest.approx(float(want[0]), rel=1e-12)
    for other_loss, other_grads in rest:
        assert other_loss == pytest.approx(loss, rel=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(other_grads[name], g, rtol=1e-10, atol=1e-12)


@pytest.mark.slow  # about 40 s of one core: 40 epochs of the exported NumPy script
def test_the_exported_script_trains_the_cnn_to_98_3_percent(example, tmp_path):
    train, validation = example.data["train"], example.data["validation"]
    np.savez(
        tmp_path / "digits.npz",
        x=train["x"],
        y=train["y"],
        x_val=validation["x"],
        y_val=validation["y"],
    )
    path = gc.export(
        example.loss, tmp_path / "train_cnn.py", "adam", lr=0.001, batch_size=64, epochs=40
    )
    result = subprocess.run(
        [sys.executable, str(path), "digits.npz", "--quiet", "--history", "history.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["val_accuracy"][-1] >= 0.983, history["val_accuracy"][-5:]
