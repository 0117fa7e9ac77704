"""gc.lower: the emitted function computes what gc.evaluate computes, on every op, with
every renderer of the one plan (fast NumPy, readable NumPy, JAX)."""

import ast
import re

import numpy as np
import pytest

import graphc as gc
from graphc.codegen import build_module, lower
from graphc.demo import lecture_network
from graphc.ops.registry import REGISTRY, apply

OPS = sorted(name for name, op in REGISTRY.items() if not op.leaf and name != "select_mode")
TARGETS = ["fast", "readable", "jax"]


@pytest.fixture(params=TARGETS)
def target(request):
    """Each renderer in turn (JAX when it is installed, in 64-bit mode)."""
    if request.param == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
    return request.param


def assert_same(got, want, target):
    """Bit for bit on NumPy targets; XLA's kernels round and sum in their own order (a few
    ulp of the array's largest entry: an entry that is a cancelling sum, as a convolution's,
    can be far smaller than its terms)."""
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    if target != "jax" or want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
    else:
        rtol = 1e-12 if want.dtype == np.float64 else 2e-6
        scale = float(np.max(np.abs(want), initial=1.0)) if np.all(np.isfinite(want)) else 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def _cast(array, dtype):
    return array.astype(dtype) if array.dtype.kind == "f" else array


def sample_graphs(name, dtype, rng):
    """(node, feed) per registry sample of `name`, float inputs cast to `dtype`."""
    for k, (arrays, attrs) in enumerate(REGISTRY[name].samples(rng)):
        arrays = [_cast(np.asarray(a), dtype) for a in arrays]
        leaves = [gc.input(f"a{k}_{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
        yield apply(name, *leaves, **attrs), {leaf.name: a for leaf, a in zip(leaves, arrays)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPS)
def test_every_op_lowers_to_what_evaluate_computes(name, dtype, target, rng):
    for node, feed in sample_graphs(name, dtype, rng):
        lowered = lower(node, target=target)
        want = gc.evaluate(node, feed)
        for _ in range(2):  # the second call runs on reused buffers
            assert_same(lowered(*[feed[a] for a in lowered.args]), want, target)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lowered_gradients_match_evaluate_over_batch_sizes(dtype, target, rng):
    loss, _ = lecture_network(n_in=5, n_classes=4, l2=0.1)
    wrt = gc.params(loss)
    outputs = [loss] + gc.grad(loss, wrt)
    lowered = lower(outputs, target=target)
    values = {k: v for k, v in gc.init_params(loss, seed=2).items()}
    for batch in (8, 3, 8, 4096):  # pools per batch size, and large arrays use select()
        values |= {"x": rng.normal(size=(batch, 5)), "y": rng.integers(0, 4, batch)}
        got = lowered(*[values[a] for a in lowered.args])
        for g, w in zip(got, gc.evaluate(outputs, values)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_source_is_readable_one_statement_per_node_with_user_names():
    loss, logits = lecture_network(n_in=4, n_classes=3)
    lowered = lower([loss, logits], name="predict")
    assert f"def predict({', '.join(lowered.args)}):" in lowered.source
    assert sorted(lowered.args) == ["W", "alpha", "b", "x", "y"]
    lines = [line.strip() for line in lowered.source.splitlines()]
    # prelu (x * slope), named after the user's node, with the op and the line that built it
    assert any(
        line.startswith("logits = ") and "# prelu  (test_lower.py:" in line for line in lines
    )
    assert "loss = " in lowered.source


def test_outputs_are_fresh_arrays_not_reused_buffers(target, rng):
    x = gc.input("x", (None, 3))
    y = gc.exp(x * 2.0) + 1.0
    lowered = lower(y, target=target)
    first = lowered(np.ones((2, 3)))
    kept = np.array(first)
    lowered(np.zeros((2, 3)))
    np.testing.assert_array_equal(first, kept)


def test_reused_outputs_are_the_same_buffers_call_after_call(rng):
    x = gc.input("x", (None, 3))
    lowered = lower(gc.exp(x * 2.0) + 1.0, reuse_outputs=True)
    first = lowered(np.ones((2, 3)))
    np.testing.assert_allclose(first, np.exp(2.0) + 1.0)
    second = lowered(np.zeros((2, 3)))
    assert second is first and np.all(first == 2.0)


def test_temporaries_are_written_in_place():
    x = gc.input("x", (None, 100))
    w = gc.param("w", (100,))
    y = gc.sum(gc.tanh(x * w + 1.0) * 3.0 - x)
    source = lower(y).source
    assert "out=" in source
    assert source.count("np.empty(") <= 2  # one pooled temporary chain, not one per op


def test_inputs_must_cover_the_graph(target):
    x, w = gc.input("x", (3,)), gc.param("w", (3,))
    with pytest.raises(gc.GraphError, match="param 'w'"):
        lower(x * w, [x])
    with pytest.raises(gc.GraphError, match="no input, param or state named 'v'"):
        lower(x * w, ["v"])
    assert lower(x * w, ["w", "x"]).args == ["w", "x"]
    with pytest.raises(gc.GraphError, match="input 'x' is given twice"):
        lower(x * w, [x, "x", w])
    f = lower(x * w, ["w", "x"], target=target)
    assert np.asarray(f.run({"x": [1.0, 2, 3], "w": [2.0, 2, 2]})).tolist() == [2, 4, 6]


def test_hostile_names_become_safe_identifiers_and_nothing_runs(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    evil = "x'); import os; os.system('touch pwned') #"
    x = gc.input(evil, (2,))
    w = gc.param("class", (2,))
    y = gc.named(x * w, "return\nimport os\rimport sys\u2028import io\x0c")
    lowered = lower(y, target=target)
    assert not (tmp_path / "pwned").exists()
    tree = ast.parse(lowered.source)
    imported = {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    jax = {"jax", "jax.numpy", "math", "time", "Mesh", "NamedSharding", "PartitionSpec"}
    assert imported - {"numpy"} <= (jax if target == "jax" else set())
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system" for n in ast.walk(tree))
    assert "x_import_os_os_system_touch_pwned" in lowered.args and "class_" in lowered.args
    np.testing.assert_array_equal(lowered(np.ones(2), np.full(2, 3.0)), [3.0, 3.0])
    assert all(a.isidentifier() for a in lowered.args)
    assert not (tmp_path / "pwned").exists()


def test_training_mode_lowering_matches_evaluate_with_batch_norm_and_dropout(target, rng):
    x = gc.input("x", (None, 6))
    gamma, beta = gc.param("g", (6,), init=1.5), gc.param("b", (6,), init=0.1)
    h = gc.dropout(gc.relu(gc.batch_norm(x, gamma, beta, name="bn")), 0.3, seed=4)
    out = gc.sum(h * h)
    feed = gc.init_params(out) | {"x": rng.normal(size=(10, 6))}
    for training in (True, False):
        lowered = lower(out, training=training, target=target)
        got = lowered.run(feed)
        assert got == pytest.approx(gc.evaluate(out, feed, training=training), rel=1e-12)


def test_float32_graphs_stay_float32(target, rng):
    x = gc.input("x", (None, 3), "float32")
    w = gc.param("w", (3, 2), dtype="float32")
    y = gc.softmax(gc.tanh(x @ w) * 0.5 + 1.0)
    lowered = lower(y, target=target)
    feed = {"x": rng.normal(size=(4, 3)).astype("float32"), "w": np.ones((3, 2), "float32")}
    got = lowered(*[feed[a] for a in lowered.args])
    assert got.dtype == np.float32
    assert_same(got, gc.evaluate(y, feed), target)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_branch_free_select_is_bit_exact(dtype, rng):
    from graphc.codegen.runtime import select

    cond = rng.normal(size=(64, 64)) > 0
    a = rng.normal(size=(64, 64)).astype(dtype)
    a[0, :3] = [np.nan, -0.0, np.inf]
    for x, y in [(a, 0), (0, a), (a, 2 * a), (a, -0.0), (-0.0, a), (a, np.float32(1.5))]:
        want = np.where(cond, x, y).astype(dtype)
        got = select(cond, x, y, out=np.empty((64, 64), dtype))
        np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{got.itemsize}"))


def test_buffer_pools_keep_a_few_batch_sizes(rng):
    x = gc.input("x", (None, 4))
    lowered = lower(gc.sum(gc.tanh(x * 2.0) * 3.0, axis=1))
    pool = next(v for k, v in lowered.fn.__globals__.items() if k.startswith("_pool"))
    for n in range(1, 21):
        data = rng.normal(size=(n, 4))
        np.testing.assert_allclose(lowered(data), (np.tanh(data * 2) * 3).sum(axis=1))
    assert 1 <= len(pool) <= 8


def test_reductions_keep_every_axis_they_reduce_over(target):
    from graphc.ops.registry import F

    x = gc.input("x", (2, 3))
    outputs = [gc.sum(x), gc.sum(x, axis=1), F.max(x, axis=None), F.max(x, axis=0)]
    got = lower(outputs, target=target)(np.arange(6.0).reshape(2, 3))
    assert [np.asarray(g).tolist() for g in got] == [15.0, [3.0, 12.0], 5.0, [3.0, 4.0, 5.0]]


def test_an_output_that_is_an_input_or_its_view_is_a_copy(target, rng):
    x = gc.input("x", (3, 2), "float64")
    lowered = lower([x * 2.0, x.T, x], target=target)
    a = rng.normal(size=(3, 2))
    _, t, same = lowered(a)
    for out in (t, same):  # the caller's array is never handed back to be changed
        assert not np.shares_memory(out, a)
    np.testing.assert_array_equal(same, a)


def test_arguments_that_do_not_fit_give_a_graph_error_naming_them(target):
    x, y = gc.input("x", (None, 3)), gc.input("y", (None, 2))
    w = gc.param("w", (3, 2))
    lowered = lower(gc.sum(x @ w * y), [x, w, y], target=target)
    ok = (np.ones((4, 3)), np.ones((3, 2)), np.ones((4, 2)))
    assert lowered(*ok) == 24.0
    with pytest.raises(gc.GraphError, match=r"input 'x' has shape \(4, 5\)"):
        lowered(np.ones((4, 5)), ok[1], ok[2])
    with pytest.raises(gc.GraphError, match=r"same batch size, but x has 4, y has 5 rows"):
        lowered(ok[0], ok[1], np.ones((5, 2)))
    with pytest.raises(gc.GraphError, match="takes 3 arguments"):
        lowered(*ok[:2])
    with pytest.raises(gc.GraphError, match=r"same batch size, but x has 4, y has 5 rows"):
        lowered.run({"x": ok[0], "w": ok[1], "y": np.ones((5, 2))})


def test_select_never_writes_into_its_b_operand(rng):
    from graphc.ops.registry import F

    x = gc.input("x", (None, 64))
    h = gc.exp(x)
    y = F.where(x > 0.0, h, h) * 2.0  # unoptimized: select(c, exp, exp) with exp dying
    a = rng.normal(size=(64, 64))  # large enough for the branch-free path
    np.testing.assert_allclose(lower(y, optimize=False)(a), 2.0 * np.exp(a))


def test_every_none_axis_is_the_one_batch_size():
    # the fast renderer's buffers are sized by the one batch size; the others need none
    x = gc.input("x", (None, None))  # a square batch, such as a Gram matrix
    lowered = lower(gc.exp(x) * 2.0 + 1.0)
    np.testing.assert_allclose(lowered(np.zeros((4, 4))), np.full((4, 4), 3.0))
    with pytest.raises(gc.GraphError, match=r"x.shape\[0\] has 4, x.shape\[1\] has 7 rows"):
        lowered(np.zeros((4, 7)))


def test_a_20000_node_chain_lowers_and_computes_what_evaluate_does():
    x = gc.input("x", (None, 4))
    y = x * gc.param("w", (4,), init=0.5)
    for _ in range(20_000):  # quadratic naming or planning would take minutes here
        y = gc.tanh(y)
    lowered = lower(gc.mean(y * y))
    assert lowered.source.count("np.tanh(") == 20_000
    feed = {"x": np.linspace(-1, 1, 8).reshape(2, 4), "w": np.full(4, 0.5)}
    # sum(y * y) lowers to one vdot, which rounds its own way
    assert lowered.run(feed) == pytest.approx(gc.evaluate(gc.mean(y * y), feed), rel=1e-12)


@pytest.mark.parametrize("ids", [[0, 3], [-1, 0], [0, 2**62]])
def test_a_lowered_function_refuses_class_ids_out_of_range(ids, target):
    # an id outside 0..classes-1 picks no one-hot row: its loss would silently count as 0
    x, y, W = gc.input("x", (None, 4)), gc.input("y", (None,), "int64"), gc.param("W", (4, 3))
    f = gc.lower(gc.softmax_cross_entropy(x @ W, y), [x, y, W], target=target)
    assert np.isfinite(f(np.ones((2, 4)), np.array([0, 2]), np.ones((4, 3))))
    with pytest.raises(gc.GraphError, match="the argument 'y' holds the class id"):
        f(np.ones((2, 4)), np.array(ids), np.ones((4, 3)))


def _function(source: str, name: str) -> str:
    start = source.index(f"def {name}(")
    return source[start : source.index("\n\n\n", start)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_lecture_step_is_few_cheap_calls_named_after_what_they_lower(dtype):
    x, y = gc.input("x", (None, 4), dtype), gc.input("y", (None,), "int64")
    W = gc.param("W", (4, 3), init="he_normal", dtype=dtype)
    b, alpha = gc.param("b", (3,), dtype=dtype), gc.param("alpha", (3,), init=0.25, dtype=dtype)
    loss = gc.softmax_cross_entropy(gc.prelu(x @ W + b, alpha), y) + 1e-4 * gc.l2(W)
    source = build_module(loss, "sgd").source()
    step = _function(source, "_train_step")
    # the backward keeps the names of the ops it lowers, though the passes rewrote the
    # forward above them (the loss's row sums became one sum)
    for name in ("prelu = ", "log_softmax = ", "softmax_xent_grad = ", "prelu_vjp_x = "):
        assert name in step, name
    assert re.search(r"sum_\w* = np\.add\.reduce\(\w+, axis=\(0, 1\)\)", step)
    # PReLU's slope, the loss's pick and alpha's mask: three selects, the slope shared
    assert step.count("select(") == 3
    forward = re.search(r"prelu = np\.multiply\(add, (\w+),", step).group(1)
    backward = re.search(r"prelu_vjp_x = np\.multiply\(softmax_xent_grad, (\w+),", step).group(1)
    assert forward == backward == "slope"
    # no one-hot row sums (class ids are checked where data enters), 2-D products as np.dot,
    # numbers in calls as 0-d arrays of the step's dtype
    assert "one_hot, axis=" not in step and step.count("np.dot(") == 2
    assert f"_zero = np.array(0.0, dtype=np.{dtype})" in source


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_written_as_np_dot_give_matmul_bits(dtype, rng):
    x, W = gc.input("x", (None, 5), dtype), gc.input("W", (5, 7), dtype)
    lowered = lower([x @ W, x.T @ (x @ W)], reuse_outputs=True)  # outputs into buffers
    assert lowered.source.count("np.dot(") == 2
    xs, Ws = rng.normal(size=(9, 5)).astype(dtype), rng.normal(size=(5, 7)).astype(dtype)
    first, second = lowered(*[{"x": xs, "W": Ws}[a] for a in lowered.args])
    np.testing.assert_array_equal(first, np.matmul(xs, Ws))
    np.testing.assert_array_equal(second, np.matmul(xs.T, np.matmul(xs, Ws)))
