"""The exported JAX module as a user runs it: a script in a process where graphc is not
importable, on one device or two (XLA's host-platform devices), and `graphc export
--backend jax`, with and without JAX installed."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as gc
from graphc.cli import main
from graphs import imported_modules

pytest.importorskip("jax")

# Runs a file as a script with graphc made unimportable (and -I: no site or cwd paths).
NO_GRAPHC = (
    "import runpy, sys; sys.modules['graphc'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)
TWO_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}


def lecture_net(hidden=128, dtype="float64"):
    """The lecture's PReLU network with batch norm and dropout, on the digits' 64 pixels."""
    x = gc.input("x", (None, 64), dtype)
    y = gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (64, hidden), init="he_normal", dtype=dtype)
    gamma = gc.param("bn.gamma", (hidden,), init=1.0, dtype=dtype)
    z = gc.batch_norm(x @ W1, gamma, gc.param("bn.beta", (hidden,), dtype=dtype), name="bn")
    h = gc.dropout(gc.prelu(z, gc.param("alpha", (hidden,), init=0.25, dtype=dtype)), 0.2)
    W2 = gc.param("W2", (hidden, 10), dtype=dtype)
    logits = gc.named(h @ W2 + gc.param("b2", (10,), dtype=dtype), "logits")
    loss = gc.softmax_cross_entropy(logits, y) + 1e-4 * (gc.l2(W1) + gc.l2(W2))
    return gc.named(loss, "loss"), logits


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    from graphc.datasets import digits

    splits = digits()
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    train, test = splits["train"], splits["validation"]
    np.savez(path, x=train["x"], y=train["y"], x_test=test["x"], y_test=test["y"])
    return path


def run(args, cwd, env=None, code=None):
    """Run python (`code`, or a script with graphc unimportable) in a fresh process."""
    command = [sys.executable, "-I", "-c", code or NO_GRAPHC, *map(str, args)]
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_file_imports_only_jax_numpy_and_the_standard_library(tmp_path):
    loss, logits = lecture_net()
    path = gc.export(loss, tmp_path / "m.py", "adam", predictions=logits, backend="jax")
    with open(path) as f:
        imported, optional = imported_modules(f.read())
    assert {"jax", "numpy"} <= imported and optional == {"onnx"}
    assert imported - {"jax", "numpy"} <= set(sys.stdlib_module_names)


def test_script_trains_the_digits_to_97_percent_on_two_devices(tmp_path, digits_npz):
    out = tmp_path / "train_jax.py"
    assert main(["export", "examples/prelu_l2.py", "-o", str(out), "--backend", "jax"]) == 0
    loss, logits = lecture_net()
    path = gc.export(loss, out, "adam", predictions=logits, lr=0.005, epochs=30, backend="jax")
    args = [path, digits_npz, "--devices", "2", "--history", "h.json", "--save", "p.npz"]
    stdout = run(args, tmp_path, TWO_DEVICES)
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["epoch", "1/30"] and lines[-1].startswith("test_loss")
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["test_accuracy"] >= 0.97, lines[-1]
    saved = np.load(tmp_path / "p.npz")
    assert {"W1", "W2", "alpha", "bn.running_mean", "bn.running_var"} <= set(saved.files)


def test_two_devices_train_as_one_does(tmp_path, digits_npz):
    loss, logits = lecture_net(hidden=32, dtype="float32")
    path = gc.export(loss, tmp_path / "m.py", "momentum", predictions=logits, backend="jax")
    code = textwrap.dedent(
        f"""
        import runpy, sys
        import numpy as np
        sys.modules["graphc"] = None
        import jax
        assert len(jax.devices()) == 2
        m = runpy.run_path({str(path)!r})
        data = dict(np.load({str(digits_npz)!r}))
        data = {{"x": data["x"][:500], "y": data["y"][:500]}}  # batches of 32, then one of 20
        runs = []
        for devices in (1, 2):
            params, state = m["init_params"](0), m["init_state"](0)
            params, state, _ = m["fit"](params, state, data, epochs=2, verbose=False,
                                        devices=devices)
            shards = {{len(a.sharding.device_set) for a in jax.tree.leaves(params)}}
            assert shards == {{devices}}, shards
            runs.append(jax.tree.map(np.asarray, (params, state["stats"])))
        for one, two in zip(*map(jax.tree.leaves, runs)):
            assert one.dtype == two.dtype == np.float32
            error = np.linalg.norm(one - two) / np.linalg.norm(one)
            assert error < 1e-5, error
        print("same")
        """
    )
    assert run([], tmp_path, TWO_DEVICES, code).strip() == "same"


def test_export_without_jax_says_how_to_install_it(tmp_path):
    code = (
        "import sys; sys.modules['jax'] = None; from graphc.cli import main; "
        "sys.exit(main(['export', 'examples/prelu_l2.py', '-o', sys.argv[1], '--backend', 'jax']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "m.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and not (tmp_path / "m.py").exists()
    (line,) = result.stderr.strip().splitlines()
    assert "pip install 'graphc[jax]'" in line


def test_nothing_in_graphc_imports_jax():
    code = (
        "import sys, graphc, visual, graphc.cli, graphc.codegen, graphc.codegen.build_jax; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib')))"
    )
    assert run([], ".", code=code).strip() == "[]"


def test_more_devices_than_jax_sees_is_one_line(tmp_path, digits_npz):
    loss, logits = lecture_net(hidden=8)
    path = gc.export(loss, tmp_path / "m.py", predictions=logits, backend="jax")
    result = subprocess.run(
        [sys.executable, "-I", "-c", NO_GRAPHC, str(path), str(digits_npz), "--devices", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **TWO_DEVICES},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("--devices 3: JAX sees 2 cpu device(s)")
