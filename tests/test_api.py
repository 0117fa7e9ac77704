"""Every public builder against NumPy written out by hand, on hypothesis-chosen arrays."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphc as gc


def reference_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


UNARY = {
    "exp": (gc.exp, np.exp),
    "tanh": (gc.tanh, np.tanh),
    "abs": (gc.abs, np.abs),
    "sign": (gc.sign, np.sign),
    "relu": (gc.relu, lambda a: np.maximum(a, 0)),
    "sigmoid": (gc.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "softplus": (gc.softplus, lambda a: np.log1p(np.exp(a))),
    "leaky_relu": (lambda x: gc.leaky_relu(x, 0.1), lambda a: np.where(a > 0, a, 0.1 * a)),
    "log": (lambda x: gc.log(gc.abs(x) + 1.0), lambda a: np.log(np.abs(a) + 1)),
    "sqrt": (lambda x: gc.sqrt(gc.abs(x)), lambda a: np.sqrt(np.abs(a))),
    "sum": (lambda x: gc.sum(x, axis=0), lambda a: a.sum(axis=0)),
    "sum_keep": (lambda x: gc.sum(x, axis=-1, keepdims=True), lambda a: a.sum(-1, keepdims=True)),
    "mean": (gc.mean, np.mean),
    "softmax": (gc.softmax, reference_softmax),
    "log_softmax": (gc.log_softmax, lambda a: np.log(reference_softmax(a))),
    "logsumexp": (lambda x: gc.logsumexp(x, axis=0), lambda a: np.log(np.exp(a).sum(0))),
    "transpose": (gc.transpose, np.transpose),
    "reshape": (lambda x: gc.reshape(x, (-1,)), lambda a: a.reshape(-1)),
    "expand_dims": (lambda x: gc.expand_dims(x, 0), lambda a: a[None]),
    "index": (lambda x: x[..., 1], lambda a: a[..., 1]),
    "square": (lambda x: x**2, np.square),
}
BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / (gc.abs(y) + 1.0), lambda a, b: a / (np.abs(b) + 1)),
    "maximum": (gc.maximum, np.maximum),
    "minimum": (gc.minimum, np.minimum),
    "greater": (gc.greater, np.greater),
    "equal": (gc.equal, np.equal),
    "less": (lambda x, y: x < y, np.less),
    "ge": (lambda x, y: x >= y, np.greater_equal),
    "where": (lambda x, y: gc.where(x > y, x, 2.0 * y), lambda a, b: np.where(a > b, a, 2 * b)),
    "prelu": (gc.prelu, lambda a, b: np.where(a > 0, a, b * a)),
    "matmul_T": (lambda x, y: x @ y.T, lambda a, b: a @ b.T),
}

matrices = hnp.arrays(np.float64, (3, 4), elements=st.floats(-5, 5))


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=15, deadline=None)
@given(a=matrices)
def test_unary_builders_match_numpy(name, a):
    build, reference = UNARY[name]
    x = gc.input("x", (None, 4))
    np.testing.assert_allclose(
        gc.evaluate(build(x), {"x": a}), reference(a), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=15, deadline=None)
@given(a=matrices, b=matrices)
def test_binary_builders_match_numpy(name, a, b):
    build, reference = BINARY[name]
    x, y = gc.input("x", (3, 4)), gc.input("y", (3, 4))
    np.testing.assert_allclose(
        gc.evaluate(build(x, y), {"x": a, "y": b}), reference(a, b), rtol=1e-12, atol=1e-12
    )


def test_one_hot_and_leaves_of_a_graph():
    labels = gc.input("labels", (None,), "int64")
    hot = gc.one_hot(labels, 3)
    np.testing.assert_array_equal(gc.evaluate(hot, {"labels": [2, 0]}), np.eye(3)[[2, 0]])
    W, s = gc.param("W", (3, 2), init="he_uniform"), gc.state("s", (2,), init=1.0)
    out = gc.sum(hot @ W + s)
    assert [p.name for p in gc.params(out)] == ["W"]
    assert [i.name for i in gc.inputs(out)] == ["labels"]
    assert {n.name for n in gc.leaves(out)} >= {"labels", "W", "s"}
    assert gc.init_state(out)["s"].tolist() == [1.0, 1.0]
    assert gc.evaluate(out, {"labels": [1], "W": np.ones((3, 2))}) == 4.0  # s defaults to init


@pytest.mark.parametrize(
    "init",
    [
        "zeros",
        "ones",
        "normal",
        "uniform",
        "he_normal",
        "he_uniform",
        "xavier_normal",
        "xavier_uniform",
    ],
)
def test_initializers_are_seeded_per_name_and_scaled(init):
    W = gc.param("W", (200, 100), init=init)
    first, again = gc.init_params(W, seed=3)["W"], gc.init_params(W, seed=3)["W"]
    np.testing.assert_array_equal(first, again)
    assert first.shape == (200, 100)
    limits = {
        "he_normal": np.sqrt(2 / 200),
        "he_uniform": np.sqrt(6 / 200) / np.sqrt(3),
        "xavier_normal": np.sqrt(2 / 300),
        "xavier_uniform": np.sqrt(6 / 300) / np.sqrt(3),
    }
    if init in limits:
        assert first.std() == pytest.approx(limits[init], rel=0.05)
    other = gc.param("V", (200, 100), init=init)
    if init not in ("zeros", "ones"):
        assert not np.array_equal(gc.init_params(other, seed=3)["V"], first)


def test_named_nodes_and_mode_specialization():
    x = gc.input("x", (None, 2))
    h = gc.named(gc.tanh(x), "hidden")
    assert h.name == "hidden" and h.op == "tanh"
    with pytest.raises(gc.GraphError):
        gc.named(x, "renamed")
    out = gc.dropout(h, 0.5)
    (train,), (infer,) = gc.specialize(out, True), gc.specialize(out, False)
    assert infer is h and train.op == "mul"
