import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network


def central_difference(loss, values, name, eps=1e-6):
    value = values[name]
    out = np.zeros_like(value)
    for i in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (
            gc.evaluate(loss, values | {name: up}) - gc.evaluate(loss, values | {name: down})
        ) / (2 * eps)
    return out


def test_reverse_mode_on_the_lecture_network_matches_finite_differences(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    params = gc.params(loss)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    for p, g in zip(params, gc.evaluate(gc.grad(loss, params), values)):
        np.testing.assert_allclose(g, central_difference(loss, values, p.name), atol=1e-8)


def test_l2_gradient_is_exactly_two_lambda_w(rng):
    W = gc.param("W", (3, 2))
    g = gc.grad(0.01 * gc.l2(W), W)
    w = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(gc.evaluate(g, {"W": w}), 2 * 0.01 * w)


def test_shared_nodes_sum_broadcasting_is_undone_and_unused_inputs_get_zeros():
    x, b, u = gc.input("x", (None, 3)), gc.param("b", (3,)), gc.param("u", (2, 2))
    e = gc.exp(x + b)
    y = gc.sum(e * e + e)
    gb, gu = gc.grad(y, [b, u])
    assert gb.shape == (3,) and gu.shape == (2, 2)
    X, B = np.ones((4, 3)), np.array([0.0, 0.5, 1.0])
    ex = np.exp(X + B)
    np.testing.assert_allclose(gc.evaluate(gb, {"x": X, "b": B}), (2 * ex * ex + ex).sum(0))
    np.testing.assert_array_equal(gc.evaluate(gu, {"x": X, "b": B, "u": np.ones((2, 2))}), 0)


def test_gradient_needs_a_scalar():
    with pytest.raises(gc.GraphError, match="scalar"):
        gc.grad(gc.input("x", (2,)) * 2.0, gc.input("z", (2,)))
    with pytest.raises(gc.GraphError, match="mode"):
        gc.grad(gc.sum(gc.input("x", (2,))), gc.input("z", (2,)), mode="telepathy")


def test_vjp_refuses_a_cotangent_count_that_differs_from_the_outputs():
    x = gc.param("x", (3,))
    with pytest.raises(gc.GraphError, match="2 outputs but 1 cotangent"):
        gc.vjp([x * 2.0, x * 3.0], [np.ones(3)], [x])  # the second output was dropped


@pytest.mark.parametrize("mode", ["reverse", "forward", "symbolic"])
def test_every_mode_refuses_integer_wrt_and_boolean_outputs(mode):
    labels, x = gc.input("labels", (3,), "int64"), gc.input("x", (3,))
    with pytest.raises(gc.GraphError, match="int64"):
        gc.grad(gc.sum(x * labels), labels, mode=mode)
    with pytest.raises(gc.GraphError, match="scalar float output"):
        gc.grad(gc.sum(x) > 0.0, x, mode=mode)
    with pytest.raises(gc.GraphError, match="scalar float output"):
        gc.numeric_grad(gc.sum(x) > 0.0, [x], {"x": np.ones(3)})
