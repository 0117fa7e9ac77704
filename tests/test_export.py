"""gc.export: the generated training file needs NumPy only, computes gc.grad's gradients,
updates as the optimizers say, and trains the lecture's network on the digits data."""

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.codegen import build_module
from graphs import imported_modules

# Runs a file as a script with graphc made unimportable (and -I: no site or cwd paths).
NO_GRAPHC = (
    "import runpy, sys; sys.modules['graphc'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def lecture_net(n_in=64, hidden=64, classes=10, l2=1e-4, bn=False, rate=0.0, dtype="float64"):
    """One hidden PReLU layer (per-unit slope), softmax cross-entropy, L2 on the weights."""
    x = gc.input("x", (None, n_in), dtype)
    y = gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (n_in, hidden), init="he_normal", dtype=dtype)
    b1 = gc.param("b1", (hidden,), dtype=dtype)
    alpha = gc.param("alpha", (hidden,), init=0.25, dtype=dtype)
    W2 = gc.param("W2", (hidden, classes), dtype=dtype)
    b2 = gc.param("b2", (classes,), dtype=dtype)
    z = x @ W1 + b1
    if bn:
        gamma = gc.param("bn.gamma", (hidden,), init=1.0, dtype=dtype)
        z = gc.batch_norm(z, gamma, gc.param("bn.beta", (hidden,), dtype=dtype), name="bn")
    h = gc.prelu(z, alpha)
    if rate:
        h = gc.dropout(h, rate)
    logits = gc.named(h @ W2 + b2, "logits")
    return gc.named(gc.softmax_cross_entropy(logits, y) + l2 * (gc.l2(W1) + gc.l2(W2)), "loss")


def load(path):
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data / 16.0,
        data.target.astype(np.int64),
        test_size=0.25,
        random_state=0,
        stratify=data.target,
    )
    return {"x": x_train, "y": y_train}, {"x": x_test, "y": y_test}


def small_batch(rng, n=6, n_in=5, classes=3):
    return {"x": rng.normal(size=(n, n_in)), "y": rng.integers(0, classes, n)}


def test_the_file_imports_only_numpy_and_the_standard_library(tmp_path):
    path = gc.export(lecture_net(bn=True, rate=0.1), tmp_path / "model.py", "adam")
    with open(path) as f:
        imported, optional = imported_modules(f.read())
    assert "numpy" in imported and optional == {"onnx"}
    assert imported - {"numpy"} <= set(sys.stdlib_module_names)
    result = subprocess.run(
        [sys.executable, "-I", "-c", NO_GRAPHC, str(path), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--epochs" in result.stdout and "--lr" in result.stdout


def test_script_trains_on_an_npz_file_with_a_line_per_epoch(tmp_path, digits):
    train, test = digits
    np.savez(
        tmp_path / "digits.npz", x=train["x"], y=train["y"], x_test=test["x"], y_test=test["y"]
    )
    path = gc.export(lecture_net(), tmp_path / "model.py", "momentum", lr=0.05, epochs=3)
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            NO_GRAPHC,
            str(path),
            "digits.npz",
            "--save",
            "trained.npz",
            "--history",
            "history.json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["1/3", "2/3", "3/3"]
    assert "val_acc" in lines[0] and lines[-1].startswith("test_loss")
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history["loss"][-1] < history["loss"][0]
    assert set(np.load(tmp_path / "trained.npz").files) == {"W1", "b1", "alpha", "W2", "b2"}


def test_gradients_match_gc_grad_and_finite_differences(tmp_path, rng):
    loss = lecture_net(n_in=5, hidden=4, classes=3, l2=0.1)
    module = load(gc.export(loss, tmp_path / "m.py"))
    params = module.init_params(3)
    reference = gc.init_params(loss, seed=3)
    assert params.keys() == reference.keys()
    for name in params:
        np.testing.assert_array_equal(params[name], reference[name])
    batch = small_batch(rng)
    value, grads = module.loss_and_grads(params, batch)
    wrt = gc.params(loss)
    values = reference | batch
    assert value == pytest.approx(float(gc.evaluate(loss, values)), rel=1e-12)
    exact = gc.evaluate(gc.grad(loss, wrt), values)
    numeric = gc.numeric_grad(loss, wrt, values)
    for node, want, approx in zip(wrt, exact, numeric):
        np.testing.assert_allclose(grads[node.name], want, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(grads[node.name], approx, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_one_step_is_the_optimizer_update(tmp_path, rng, optimizer):
    loss = lecture_net(n_in=5, hidden=4, classes=3)
    module = load(gc.export(loss, tmp_path / "m.py", optimizer, lr=0.01))
    params, state = module.init_params(0), module.init_state(0)
    batch = small_batch(rng)
    want = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    for step in (1, 2):
        _, grads = module.loss_and_grads(params, batch)
        module.train_step(params, state, batch)
        for k, g in grads.items():
            if optimizer == "sgd":
                want[k] -= 0.01 * g
            elif optimizer == "momentum":
                m[k] = 0.9 * m[k] + g
                want[k] -= 0.01 * m[k]
            else:
                m[k] = 0.9 * m[k] + 0.1 * g
                v2[k] = 0.999 * v2[k] + 0.001 * g * g
                lr_t = 0.01 * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
                want[k] -= lr_t * m[k] / (np.sqrt(v2[k]) + 1e-8)
            np.testing.assert_allclose(params[k], want[k], rtol=1e-10, atol=1e-12)
    assert state["step"] == 2


def test_batch_norm_keeps_running_statistics_and_dropout_is_off_at_evaluation(tmp_path, rng):
    loss = lecture_net(n_in=5, hidden=4, classes=3, bn=True, rate=0.5)
    # a step too small to move the params (the learning rate must be positive)
    module = load(gc.export(loss, tmp_path / "m.py", "sgd", lr=1e-200))
    params, state = module.init_params(0), module.init_state(0)
    batch = small_batch(rng, n=32)
    module.train_step(params, state, batch)
    updates = {}
    gc.evaluate(loss, gc.init_params(loss) | batch, training=True, updates=updates)
    for name, value in updates.items():  # the running statistics do not depend on dropout
        np.testing.assert_allclose(state["stats"][name], value, rtol=1e-12)
    first = module.forward(params, batch, state)
    np.testing.assert_array_equal(first, module.forward(params, batch, state))
    logits = [n for n in gc.topological_order(loss) if n.name == "logits"][0]
    values = gc.init_params(loss) | batch | state["stats"]
    np.testing.assert_allclose(first, gc.evaluate(logits, values), rtol=1e-12)
    losses = {module.loss_and_grads(params, batch, state)[0] for _ in range(3)}
    assert len(losses) == 3  # a fresh dropout mask at every training evaluation


def test_hostile_names_are_made_safe_and_nothing_runs(tmp_path, rng):
    evil = "x'); import os; os.system('touch pwned') #"
    x = gc.input("x", (None, 3))
    w = gc.param(evil, (3, 2))
    loss = gc.mean(gc.softplus(x @ w))
    path = gc.export(loss, tmp_path / "m.py", epochs=1)
    module = load(path)
    value, grads = module.loss_and_grads(module.init_params(0), {"x": rng.normal(size=(4, 3))})
    assert set(grads) == {evil} and np.isfinite(value)
    assert not (tmp_path / "pwned").exists() and not (tmp_path.parent / "pwned").exists()
    with pytest.raises(gc.GraphError, match="optimizer"):
        gc.export(loss, tmp_path / "bad.py", "rmsprop")
    with pytest.raises(gc.GraphError, match="lr must be a finite number"):
        gc.export(loss, tmp_path / "bad.py", lr="0.1; import os")
    sneaky = 'm"""\nimport os; os.system("touch pwned")\n"""'
    module = load(gc.export(loss, tmp_path / "named.py", name=sneaky))
    assert sneaky == module.MODEL_NAME
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "bn, rate, optimizer, lr", [(False, 0.0, "adam", 0.005), (True, 0.2, "adam", 0.005)]
)
def test_digits_reach_97_percent_test_accuracy(tmp_path, digits, bn, rate, optimizer, lr):
    train, test = digits
    loss = lecture_net(hidden=128, bn=bn, rate=rate)
    module = load(gc.export(loss, tmp_path / "m.py", optimizer, lr=lr, batch_size=32, epochs=30))
    params, state = module.init_params(0), module.init_state(0)
    history = module.fit(params, state, train, validation=test, verbose=False)
    assert history["loss"][-1] < 0.25 * history["loss"][0]
    assert history["val_accuracy"][-1] == module.evaluate(params, state, test)[1]
    assert module.evaluate(params, state, test)[1] >= 0.97


def test_float32_model_trains_in_float32_and_matches_gc_grad(tmp_path, rng):
    loss = lecture_net(n_in=5, hidden=4, classes=3, dtype="float32")
    module = load(gc.export(loss, tmp_path / "m.py", "sgd", lr=0.05))
    params, state = module.init_params(0), module.init_state(0)
    batch = {"x": rng.normal(size=(16, 5)).astype("float32"), "y": rng.integers(0, 3, 16)}
    _, grads = module.loss_and_grads(params, batch)
    exact = gc.evaluate(gc.grad(loss, gc.params(loss)), gc.init_params(loss) | batch)
    for node, want in zip(gc.params(loss), exact):
        assert grads[node.name].dtype == np.float32
        np.testing.assert_allclose(grads[node.name], want, rtol=1e-4, atol=1e-6)
    losses = [module.train_step(params, state, batch) for _ in range(30)]
    assert losses[-1] < losses[0] and all(p.dtype == np.float32 for p in params.values())


def test_a_gradient_that_is_another_param_is_read_before_any_update():
    w1, w2 = gc.param("w1", (3,), init=0.5), gc.param("w2", (3,), init=2.0)
    x = gc.input("x", (None, 3))
    loss = gc.sum(w1 * w2) + 0.0 * gc.sum(x)  # d/dw1 is w2 itself, d/dw2 is w1
    ns = build_module(loss, "momentum", lr=0.1).compile("<test>")
    params, state = ns["init_params"](0), ns["init_state"](0)
    _, grads = ns["loss_and_grads"](params, {"x": np.ones((2, 3))})
    assert not any(np.shares_memory(g, p) for g in grads.values() for p in params.values())
    ns["train_step"](params, state, {"x": np.ones((2, 3))})
    np.testing.assert_allclose(params["w1"], 0.5 - 0.1 * 2.0)
    np.testing.assert_allclose(params["w2"], 2.0 - 0.1 * 0.5)  # the old w1, not the new


def test_a_name_like_a_module_global_does_not_shadow_it():
    x = gc.input("DROPOUT_RATES", (None, 3))  # the step reads the global of that name
    h = gc.named(gc.dropout(x * gc.param("HYPER", (3,), init=1.0), 0.5, seed=1), "PARAMS")
    ns = build_module(gc.sum(h * h)).compile("<test>")
    params, state = ns["init_params"](0), ns["init_state"](0)
    loss = ns["train_step"](params, state, {"DROPOUT_RATES": np.ones((2, 3))})
    assert np.isfinite(loss) and set(params) == {"HYPER"}


def test_generated_source_names_no_numpy_2_only_dtype(rng):
    import re

    x, keep = gc.input("x", (None, 3)), gc.input("keep", (None, 3), "bool")
    w = gc.param("w", (3,), init=0.5)
    loss = gc.sum(gc.where(keep, gc.relu(x * w), x))  # a bool input and a bool mask buffer
    source = build_module(loss).source() + gc.lower(loss).source
    assert not re.search(r"np\.bool\b", source)  # np.bool is NumPy 2 only; np.bool_ is not
    ns = build_module(loss).compile("<test>")
    batch = {"x": rng.normal(size=(2, 3)), "keep": np.array([[True, False, True]] * 2)}
    assert np.isfinite(ns["train_step"](ns["init_params"](0), ns["init_state"](0), batch))


def test_a_long_chain_that_reuses_one_param_exports_and_its_step_is_gc_grads(tmp_path, rng):
    # the L2 term's split from the data term walks the gradient: 2,000 nested products once
    # overflowed Python's recursion limit
    x, y = gc.input("x", (None, 4)), gc.input("y", (None,), "int64")
    W, h = gc.param("W", (4, 4)), x
    for _ in range(700):
        h = gc.tanh(h @ W) * 0.9
    loss = gc.softmax_cross_entropy(h, y) + 1e-3 * gc.l2(W)
    module = load(gc.export(loss, tmp_path / "chain.py", "sgd", lr=0.1))
    params = module.init_params(0)
    batch = {"x": rng.normal(size=(3, 4)), "y": np.array([0, 3, 1])}
    before = params["W"].copy()
    module.train_step(params, module.init_state(0), batch)
    (want,) = gc.evaluate(gc.grad(loss, [W]), gc.init_params(loss, seed=0) | batch)
    np.testing.assert_allclose(params["W"], before - 0.1 * want, rtol=1e-12, atol=1e-15)


def test_every_generated_line_cites_a_line_that_built_the_model(tmp_path):
    # a gradient or a fused node cites the user's line of the node it stands for, not the
    # line that called gc.grad or gc.export (or graphc's launcher, from the command line)
    loss = lecture_net(n_in=5, hidden=4, classes=3, l2=0.1)
    built = {n.site.rsplit(":", 1)[1] for n in gc.topological_order(loss)}
    source = (tmp_path / "m.py").read_text() if gc.export(loss, tmp_path / "m.py") else ""
    cited = re.findall(r"# .*\(([^()]*?):(\d+)[^()]*\)$", source, flags=re.M)
    assert cited and {f for f, _ in cited} == {"test_export.py"}
    assert {line for _, line in cited} <= built
    grads = gc.grad(loss, gc.params(loss))
    assert {n.site.rsplit(":", 1)[1] for n in gc.topological_order(grads)} <= built
