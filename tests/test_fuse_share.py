"""Softmax cross-entropy's forward and backward share one log_softmax in a training graph."""

import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network
from graphc.ops.fused import softmax_xent_grad_kernel, target_log_prob_kernel
from graphc.ops.registry import F
from graphc.passes import fuse, optimize, simplify


def _ops(outputs):
    return list(gc.topological_order(outputs))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_training_graph_normalizes_the_logits_once(dtype):
    x, y = gc.input("x", (None, 4), dtype), gc.input("y", (None,), "int64")
    W = gc.param("W", (4, 3), init="he_normal", dtype=dtype)
    loss = gc.softmax_cross_entropy(gc.prelu(x @ W, gc.param("a", (3,), 0.25, dtype)), y)
    graph = [loss, *gc.grad(loss, gc.params(loss))]
    result = optimize(graph)
    nodes = _ops(result.outputs)
    (ls,) = [n for n in nodes if n.op == "log_softmax"]
    pair = [n for n in nodes if n.op in ("target_log_prob", "softmax_xent_grad")]
    assert len(pair) == 2 and all(n.attrs["log_probs"] and n.inputs[0] is ls for n in pair)
    assert not any(n.op == "softmax" for n in nodes)
    fused = next(s for s in result.steps if s.name == "fuse").counts
    assert fused["shared log_softmax"] == 1
    rng = np.random.default_rng(0)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(6, 4)).astype(dtype),
        "y": np.array([0, 2, 1, 2, 0, 2]),
    }
    tol = 1e-5 if dtype == "float32" else 1e-12
    for want, got in zip(gc.evaluate(graph, values), gc.evaluate(result.outputs, values)):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_gradients_alone_keep_the_unshared_backward():
    loss, _ = lecture_network(4, 3)
    outputs, counts = fuse(gc.grad(loss, gc.params(loss)))
    assert "shared log_softmax" not in counts
    assert not any(n.attrs.get("log_probs") for n in _ops(outputs))


def test_kernels_on_log_probabilities_keep_the_one_hot_semantics():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(5, 4)).astype(np.float32)
    ls = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.array([3, 0, 4, -1, 1])
    hot = (y[:, None] == np.arange(4)).astype(np.float32)
    grad = softmax_xent_grad_kernel(ls, y, np.float32(0.5), axis=1, log_probs=True)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(
        grad, 0.5 * (np.exp(ls) * hot.sum(1, keepdims=True) - hot), rtol=1e-6, atol=1e-7
    )  # zero rows for the ids out of range
    picked = target_log_prob_kernel(ls, y, axis=1, log_probs=True)
    np.testing.assert_allclose(picked, [ls[0, 3], ls[1, 0], 0.0, 0.0, ls[4, 1]], rtol=1e-6)
    rows = [0, 1, 4]  # in range: the same as picking from the logits' own log_softmax
    np.testing.assert_allclose(
        picked[rows], target_log_prob_kernel(z[rows], y[rows], axis=1), rtol=1e-5
    )


def test_the_sgd_scale_reaches_the_backward_as_lr_over_batch():
    a, b = gc.input("a", ()), gc.input("b", ())
    (out,), counts = simplify([-((-a) / b)])
    assert counts["-(-x/y)"] == 1 and out.op == "div" and out.inputs == (a, b)
    np.testing.assert_equal(gc.evaluate(out, {"a": 3.0, "b": -0.0}), -np.inf)


def test_the_lowered_step_has_no_kernel_call_for_batch_sums():
    loss, _ = lecture_network(4, 3)
    source = gc.lower([loss, *gc.grad(loss, gc.params(loss))], training=True).source
    for kernel in ("sum_to_kernel(", "axis_size_kernel(", "prelu_vjp_alpha_kernel("):
        assert kernel not in source


@pytest.mark.parametrize("attrs", [{}, {"axis": (0,), "lead": "a"}, {"axis": (0,)}])
def test_prelu_alpha_cotangent_without_a_target_shape_is_a_shape_error(attrs):
    x = gc.input("x", (None, 3))
    with pytest.raises(gc.ShapeError, match="prelu_vjp_alpha: .*shape="):  # raw KeyError before
        F.prelu_vjp_alpha(x, x, **attrs)
