"""gc.export(style="readable"): a module made to be read, with the fast module's functions,
command line and numbers; trained where graphc cannot be imported."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.codegen import build_module
from graphc.demo import lecture_network
from graphc.modelfile import load_model
from graphc.ops.registry import REGISTRY
from test_export import NO_GRAPHC, lecture_net, load
from test_export import digits as digits  # noqa: F401 (a fixture, shared)
from test_registry import MODE_OPS, OPS, sample_nodes


def model_part(source: str) -> list[str]:
    """The model-specific lines: from `def model(` to the end of `def update(`."""
    start = source.index("def model(")
    end = source.index("\n\n\n", source.index("def update("))
    return source[start:end].splitlines()


def backward_lines(source: str) -> list[str]:
    lines = source[source.index("# backward:") :].splitlines()
    return lines[1 : next(i for i, line in enumerate(lines) if line.strip().startswith("return"))]


@pytest.fixture(scope="module")
def lecture_source():
    loss, logits = lecture_network()
    module = build_module(loss, "adam", predictions=logits, lr=0.01, style="readable")
    return module.source()


def test_the_lecture_network_reads_as_forward_backward_and_update(lecture_source):
    part = model_part(lecture_source)
    assert len(part) <= 80, len(part)
    # the graph's names, one line per node; the prelu as NumPy writes it
    assert "    logits = np.where(add > 0.0, add, alpha * add)  # prelu" in part
    assert "    add = matmul + b" in part and "    mul_3 = 0.0001 * sum_3" in part
    # every gradient line carries its chain-rule step (on the line or just above it)
    backward = backward_lines(lecture_source)
    assignments = [i for i, line in enumerate(backward) if re.match(r"\s+dL_d\w+ = ", line)]
    assert len(assignments) >= 5  # the simplified gradient graph's cotangents
    for i in assignments:
        here, above = backward[i], backward[i - 1]
        assert "# dL/d" in here or above.strip().startswith("# dL/d"), here
    assert "# dL/dadd = dL/dlogits * dprelu(add, alpha)/dadd" in lecture_source
    assert "dL/dlogits = dloss/dneg * dsoftmax_cross_entropy(logits, y)/dlogits" in lecture_source
    # the optimizer as its formula, with the convention it follows
    assert "params[name] -= lr_t * m / (np.sqrt(v) + eps)" in lecture_source
    assert "epsilon-hat" in lecture_source and "PyTorch" in lecture_source


def test_the_readme_shows_the_lecture_module_as_it_is(lecture_source):
    with open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    shown = readme.split("its forward and backward passes read:\n\n```\n")[1].split("```")[0]
    body = [line[4:] for line in model_part(lecture_source)]
    assert all(line in body for line in shown.splitlines()), "README excerpt is stale"
    assert f"the model part is {len(model_part(lecture_source))} lines" in readme


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def example_source(name: str) -> tuple[str, dict, dict]:
    """The readable source of an example, and its readable and fast modules compiled."""
    model = load_model(os.path.join(EXAMPLES, f"{name}.py"))
    loss, predictions = model.loss, model.outputs[1]
    source = build_module(loss, predictions=predictions, style="readable").source()
    readable = build_module(loss, predictions=predictions, style="readable").compile("<r>")
    return source, readable, build_module(loss, predictions=predictions).compile("<fast>")


def test_the_backward_is_the_simplified_picture_s(rng):
    source, readable, fast = example_source("prelu_l2")
    backward = backward_lines(source)
    # the L2 penalty's gradient: one product 2 * 0.0001 * W, not two equal terms
    (factor,) = [m[1] for line in backward if (m := re.match(r"\s+dL_dW = (\S+) \* W \+ ", line))]
    assert float(factor) == 2 * 1e-4
    assert not any("dL_dmul_2" in line for line in backward)
    # softmax cross-entropy's: (softmax - one_hot) / N in one line, no bookkeeping lines
    (line,) = [line for line in backward if line.strip().startswith("dL_dlogits = ")]
    found = re.match(r"\s+dL_dlogits = \((\w+) - (\w+)\) \* \(1\.0 / axis_size\)$", line)
    softmax, one_hot = found.groups()
    assert one_hot == "one_hot" and "    one_hot = (np.expand_dims(y, 1) ==" in source  # forward's
    assert any(s.strip().startswith(f"{softmax} = _exp / np.sum(_exp, axis=1") for s in backward)
    assert "(1.0 / axis_size)" in line and "axis_size = np.asarray(sum_.shape[0]" in source
    for gone in ("dL_ddiv", "dL_dsum", "dL_dlog_softmax", "dL_dmul ="):
        assert gone not in source, gone
    # each gradient line still carries its chain-rule step
    assert "# dL/dW = dloss/dsum_3 * dl2(W)/dW + dL/dz * d(x @ W)/dW" in source
    assert "# dL/dlogits = dloss/ddata_loss * dsoftmax_cross_entropy(logits, y)/dlogits" in source
    # and the fast module's numbers
    batch = {"x": rng.normal(size=(6, 64)), "y": rng.integers(0, 10, 6)}
    params = fast["init_params"](0)
    (lr_, gr), (lf, gf) = [m["loss_and_grads"](params, batch) for m in (readable, fast)]
    assert lr_ == pytest.approx(lf, abs=1e-12)
    for name in gf:
        np.testing.assert_allclose(gr[name], gf[name], rtol=0, atol=1e-12)


def test_gradients_the_passes_fold_to_constants_are_written_too():
    x, W, U = gc.input("x", (None, 3)), gc.param("W", (3,), init=0.5), gc.param("U", ())
    loss = gc.sum(3.0 * W) + gc.mean(x) + 2.0 * U
    source = build_module(loss, style="readable").source()
    assert "    dL_dU = 2.0  # dL/dU = " in source
    readable = build_module(loss, style="readable").compile("<r>")
    batch = {"x": np.ones((2, 3))}
    grads = readable["loss_and_grads"](readable["init_params"](0), batch)[1]
    np.testing.assert_array_equal(grads["W"], [3.0, 3.0, 3.0])
    assert grads["U"] == 2.0


def test_batch_norm_s_statistics_are_called_what_they_are():
    source = example_source("batchnorm")[0]
    assert "    batch_mean = sum_ / axis_size\n" in source
    assert "    batch_var = sum_2 / axis_size_2\n" in source
    training = source[source.index("def model(") : source.index("def model_inference(")]
    assert "div = sum_ / axis_size\n" not in training and "div_2 = sum_2 /" not in training


def test_nothing_of_the_fast_module_or_graphc_inside(lecture_source):
    for fast in (r"\bout=", "_buf", "_pool", r"\bselect\(", "_kernel", "bitwise", r"\(graphc:"):
        assert not re.search(fast, lecture_source), fast
    assert not re.search(r"\b_t\d+\b", lecture_source)
    assert "graphc" not in lecture_source.replace("graphc.export", "").replace(
        "module graphc exports", ""
    )


def test_constants_read_as_written():
    x = gc.input("x", (None, 3))
    gamma, beta = gc.param("gamma", (3,), init=1.0), gc.param("beta", (3,))
    loss = gc.mean(gc.batch_norm(x, gamma, beta, momentum=0.9) ** 2)
    source = build_module(loss, style="readable").source()
    assert "0.1 * " in source and "0.09999999999999998" not in source


CASES = [
    (dict(), "sgd"),
    (dict(), "momentum"),
    (dict(), "adam"),
    (dict(bn=True), "adam"),
    (dict(rate=0.3), "momentum"),
    (dict(bn=True, rate=0.2), "sgd"),
]


@pytest.mark.parametrize("net, optimizer", CASES)
def test_gradients_and_one_step_agree_with_the_fast_module(net, optimizer, rng):
    loss = lecture_net(n_in=5, hidden=7, classes=3, **net)
    readable = build_module(loss, optimizer, style="readable").compile("<readable>")
    fast = build_module(loss, optimizer).compile("<fast>")
    batch = {"x": rng.normal(size=(6, 5)), "y": rng.integers(0, 3, 6)}
    modules = [(m, m["init_params"](0), m["init_state"](0)) for m in (readable, fast)]
    (lr_, gr), (lf, gf) = [m["loss_and_grads"](p, batch, m["init_state"](1)) for m, p, _ in modules]
    assert lr_ == pytest.approx(lf, abs=1e-12)
    for name in gf:
        np.testing.assert_allclose(gr[name], gf[name], rtol=0, atol=1e-12)
    for m, params, state in modules:
        m["train_step"](params, state, batch)
    (_, pr, sr), (_, pf, sf) = modules
    for name in pf:
        np.testing.assert_allclose(pr[name], pf[name], rtol=0, atol=1e-12)
    for name in sf["stats"]:
        np.testing.assert_allclose(sr["stats"][name], sf["stats"][name], rtol=0, atol=1e-12)
    # and inference: evaluate, forward, the predictions without labels
    assert readable["evaluate"](pr, sr, batch)[0] == pytest.approx(
        fast["evaluate"](pf, sf, batch)[0], abs=1e-12
    )
    np.testing.assert_allclose(
        readable["forward"](pr, {"x": batch["x"]}, sr),
        fast["forward"](pf, {"x": batch["x"]}, sf),
        rtol=0,
        atol=1e-12,
    )


def test_float32_stays_float32(rng):
    loss = lecture_net(n_in=5, hidden=4, classes=3, dtype="float32")
    module = build_module(loss, "adam", style="readable").compile("<readable>")
    params, state = module["init_params"](0), module["init_state"](0)
    batch = {"x": rng.normal(size=(16, 5)).astype("float32"), "y": rng.integers(0, 3, 16)}
    _, grads = module["loss_and_grads"](params, batch)
    exact = gc.evaluate(gc.grad(loss, gc.params(loss)), gc.init_params(loss) | batch)
    for node, want in zip(gc.params(loss), exact):
        assert grads[node.name].dtype == np.float32
        np.testing.assert_allclose(grads[node.name], want, rtol=1e-4, atol=1e-6)
    losses = [module["train_step"](params, state, batch) for _ in range(20)]
    assert losses[-1] < losses[0] and all(p.dtype == np.float32 for p in params.values())


def test_monte_carlo_predict(rng):
    loss = lecture_net(n_in=5, hidden=16, classes=3, rate=0.5)
    module = build_module(loss, "adam", style="readable").compile("<readable>")
    params, state = module["init_params"](0), module["init_state"](0)
    batch = {"x": rng.normal(size=(8, 5))}
    single = module["predict"](params, state, batch)
    mean, std = module["predict"](params, state, batch, mc_samples=400)
    assert np.all(std > 0) and np.all(np.abs(mean - single) < 5 * std / 20 + 1e-12)


def test_a_gradient_never_shares_memory_with_a_param():
    w1, w2 = gc.param("w1", (3,), init=0.5), gc.param("w2", (3,), init=2.0)
    x = gc.input("x", (None, 3))
    loss = gc.sum(w1 * w2) + 0.0 * gc.sum(x)
    ns = build_module(loss, "momentum", lr=0.1, style="readable").compile("<readable>")
    params, state = ns["init_params"](0), ns["init_state"](0)
    ns["train_step"](params, state, {"x": np.ones((2, 3))})
    np.testing.assert_allclose(params["w1"], 0.5 - 0.1 * 2.0)
    np.testing.assert_allclose(params["w2"], 2.0 - 0.1 * 0.5)


def test_hostile_names_stay_names(tmp_path):
    evil = 'W"]; import os; os.system("touch pwned"); x = ["'
    x = gc.input("x\n import os", (None, 3))
    loss = gc.sum(gc.named(x @ gc.param(evil, (3, 2)), "h # \n os.system('x')") ** 2)
    path = gc.export(loss, tmp_path / "m.py", style="readable")
    module = load(path)
    value, grads = module.loss_and_grads(module.init_params(0), {"x\n import os": np.ones((2, 3))})
    assert set(grads) == {evil} and np.isfinite(value)
    assert not (tmp_path / "pwned").exists()


def test_unknown_style_is_refused(tmp_path):
    with pytest.raises(gc.GraphError, match="style must be one of fast, readable"):
        gc.export(lecture_net(), tmp_path / "m.py", style="pretty")


def test_trains_the_digits_where_graphc_cannot_be_imported(tmp_path, digits):
    train, test = digits
    np.savez(
        tmp_path / "digits.npz", x=train["x"], y=train["y"], x_test=test["x"], y_test=test["y"]
    )
    loss = lecture_net(hidden=128)
    gc.export(loss, tmp_path / "train.py", "adam", lr=0.005, epochs=30, style="readable")
    run = subprocess.run(
        [sys.executable, "-I", "-c", NO_GRAPHC, "train.py", "digits.npz", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    accuracy = float(re.search(r"test_accuracy (\d+\.\d+)%", run.stdout).group(1)) / 100
    assert accuracy >= 0.97, run.stdout
    shown = subprocess.run(
        [sys.executable, "-I", "-c", NO_GRAPHC, "train.py", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "Train the model 'train' with adam" in shown
    assert "passes over the training data (default: 30)" in shown


def _helper_functions() -> dict:
    """The functions generated modules may call by name (copied from the helper modules)."""
    from graphc.codegen.module import HELPER_MODULES

    return {k: v for m in HELPER_MODULES for k, v in vars(m).items() if callable(v)}


@pytest.mark.parametrize("name", sorted(set(OPS) - MODE_OPS))
def test_every_op_reads_as_numpy_that_computes_its_kernel(name, rng):
    from graphc.codegen.readable_spelling import Spelling

    constants = {}

    def constant(array):
        constants[f"_c{len(constants)}"] = array
        return f"_c{len(constants) - 1}"

    fresh = iter(f"_v{i}" for i in range(100))
    spelling = Spelling(constant, {}, lambda hint: next(fresh))
    for node, feed in sample_nodes(name, rng):
        if REGISTRY[name].helper is not None:
            continue  # a runtime helper (random draws): the module tests run it
        leaves = list(node.inputs)
        names = {leaf.id: leaf.name for leaf in leaves}
        pre, expr = spelling.op_lines(node, leaves, names)
        scope = {"np": np, **_helper_functions(), **constants, **feed}
        exec("\n".join(pre), scope)  # noqa: S102 - source we just generated from the registry
        got = np.asarray(eval(expr, scope), dtype=node.dtype)  # noqa: S307 - the same
        want = gc.evaluate(node, feed)
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: {pre} {expr}")
