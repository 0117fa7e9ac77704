"""The command line with ONNX: `graphc export MODEL -o model.onnx` (with --params, --opset),
and `graphc show|render|compare|export` reading an .onnx model with a loss given by flags;
graphc without the onnx package imports, works, and says how to install it."""

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from graphc.cli import main  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLE = os.path.join(ROOT, "examples", "softmax_multiclass.py")
TORCH = os.path.join(ROOT, "tests", "fixtures", "torch_mlp.onnx")
SKLEARN = os.path.join(ROOT, "tests", "fixtures", "sklearn_mlp.onnx")


def test_export_writes_onnx_with_trained_params(tmp_path, capsys):
    params = tmp_path / "params.npz"
    assert main(["train", EXAMPLE, "--epochs", "2", "--quiet", "--save", str(params)]) == 0
    out = tmp_path / "iris.onnx"
    assert main(["export", EXAMPLE, "-o", str(out), "--params", str(params), "--opset", "17"]) == 0
    assert f"wrote {out} (ONNX opset 17, outputs logits)" in capsys.readouterr().out
    model = onnx.load(out)
    trained = dict(np.load(params))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(weights["W1"], trained["W1"])
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "output (N, 3) 'logits'" in shown and "param  W1  (4, 8)" in shown


def test_an_onnx_model_is_shown_compared_drawn_and_exported_with_a_loss(tmp_path, capsys):
    flags = ["--loss", "softmax_cross_entropy", "--labels", "y"]
    assert main(["compare", TORCH, *flags, "--methods", "reverse", "forward"]) == 0
    assert "reverse" in capsys.readouterr().out
    assert main(["render", TORCH, "-o", str(tmp_path / "f.svg")]) == 0
    assert (tmp_path / "f.svg").read_text().startswith("<?xml")
    script = tmp_path / "train.py"
    assert main(["export", TORCH, *flags, "-o", str(script)]) == 0
    data = np.load(os.path.join(ROOT, "tests", "fixtures", "onnx_producers.npz"))
    np.savez(tmp_path / "d.npz", x=data["x"], y=data["y"])
    saved = tmp_path / "trained.npz"
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "d.npz"), "--epochs", "3", "--save", saved],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    # the script's trained params back out as ONNX
    out = tmp_path / "trained.onnx"
    assert main(["export", TORCH, "-o", str(out), "--params", str(saved)]) == 0
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    trained = dict(np.load(saved))
    assert set(weights) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, array in weights.items():
        np.testing.assert_array_equal(array, trained[name])
    np.savez(tmp_path / "partial.npz", **{"0.weight": trained["0.weight"]})
    assert main(["export", TORCH, "-o", str(out), "--params", str(tmp_path / "partial.npz")]) == 1
    assert "partial.npz: no array for the param '0.bias'" in capsys.readouterr().err


def test_onnx_model_errors_are_one_line(capsys):
    assert main(["compare", TORCH]) == 1
    assert "holds no loss; give one with --loss softmax_cross_entropy" in capsys.readouterr().err
    assert main(["show", SKLEARN]) == 1
    err = capsys.readouterr().err
    assert "unknown op 'ArgMax'" in err and "--prediction OUTPUT" in err
    assert main(["show", SKLEARN, "--prediction", "probabilities"]) == 0
    assert main(["show", "nothing.onnx"]) == 1
    assert "nothing.onnx: no such file" in capsys.readouterr().err


def test_graphc_works_without_onnx_and_says_how_to_install_it(tmp_path):
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import graphc as gc\n"
        "x = gc.input('x', (None, 2))\n"
        "assert gc.evaluate(gc.exp(x), {'x': [[0.0, 0.0]]}).sum() == 2\n"
        "try:\n"
        "    gc.to_onnx(gc.exp(x))\n"
        "except gc.GraphError as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "ONNX support needs the onnx package" in run.stdout
    assert "pip install 'graphc[onnx]'" in run.stdout
