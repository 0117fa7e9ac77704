"""The exported training script's --onnx PATH: the trained model leaves the script as ONNX
(in every style and backend) without graphc, and ONNX Runtime gives graphc's predictions
with the trained params and running statistics."""

import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.cli import main
from graphc.modelfile import load_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLE = os.path.join(ROOT, "examples", "batchnorm.py")  # running statistics are weights too


def run(script, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no graphc needed
    command = [sys.executable, str(script), *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("kind", ["fast", "readable", "jax"])
def test_the_script_writes_its_trained_model_as_onnx(kind, tmp_path):
    if kind == "jax":
        pytest.importorskip("jax")
    flags = {"fast": [], "readable": ["--readable"], "jax": ["--backend", "jax"]}[kind]
    script, data = tmp_path / "train.py", tmp_path / "d.npz"
    assert main(["export", EXAMPLE, "-o", str(script), "--data", str(data), *flags]) == 0
    args = ("--epochs", "2", "--quiet", "--save", "p.npz", "--onnx", "m.onnx")
    done = run(script, data, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote m.onnx (ONNX)" in done.stdout
    model = onnx.load(tmp_path / "m.onnx")
    onnx.checker.check_model(model, full_check=True)
    trained = dict(np.load(tmp_path / "p.npz"))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert set(trained) <= set(weights)  # every param and running statistic, trained
    for name, array in trained.items():
        np.testing.assert_array_equal(weights[name], array)
    x = np.load(data)["x_val"]
    (got,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})
    logits = load_model(EXAMPLE, with_data=False).outputs[1]
    want = gc.evaluate(logits, {"x": x, **trained})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_script_without_an_onnx_form_says_why_before_training(tmp_path):
    x = gc.input("x", (None, 2))
    loss = gc.mse(x @ gc.param("W", (2, 1)), gc.input("y", (None, 1)))
    script = gc.export(loss, tmp_path / "train.py")  # a regression: no predictions named
    np.savez(tmp_path / "d.npz", x=np.ones((8, 2)), y=np.ones((8, 1)))
    done = run(script, "d.npz", "--epochs", "1", "--onnx", "m.onnx", cwd=tmp_path)
    assert done.returncode != 0 and "epoch" not in done.stdout  # refused before training
    assert "error: --onnx: this script has no ONNX form: the model names no predictions" in (
        done.stderr
    )
    done = run(script, "d.npz", "--onnx", "nowhere/m.onnx", cwd=tmp_path)
    assert "error: --onnx nowhere/m.onnx: no folder" in done.stderr
