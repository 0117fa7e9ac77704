"""Higher order: reverse over reverse and forward over reverse agree with each other, with
SymPy's Hessian, and with finite differences of the gradient."""

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.demo import lecture_network


def small_network():
    x = gc.input("x", (None, 3))
    W = gc.param("W", (3, 2))
    b = gc.param("b", (2,))
    y = gc.sum(gc.softplus(gc.tanh(x @ W + b)) * gc.const([[1.0, -2.0]])) + 0.5 * gc.l2(W)
    return y, [W, b]


@pytest.fixture
def network(rng):
    y, wrt = small_network()
    values = {"x": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    return y, wrt, values


def test_reverse_over_reverse_equals_forward_over_reverse(network, rng):
    y, wrt, values = network
    vs = [rng.normal(size=w.shape) for w in wrt]
    rr = gc.evaluate(gc.hvp(y, wrt, vs, mode="reverse"), values)
    fr = gc.evaluate(gc.hvp(y, wrt, vs, mode="forward"), values)
    for a, b in zip(rr, fr):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    H = gc.hessian(y, wrt, values)
    flat = np.concatenate([v.ravel() for v in vs])
    np.testing.assert_allclose(H @ flat, np.concatenate([a.ravel() for a in rr]), rtol=1e-12)


def test_full_hessians_agree_with_sympy_and_are_symmetric(network):
    y, wrt, values = network
    H_rev = gc.hessian(y, wrt, values, mode="reverse")
    H_fwd = gc.hessian(y, wrt, values, mode="forward")
    expr = gc.to_sympy(y, values=values, constants=("x",))
    symbols = [sp.Symbol(f"W[{i},{j}]", real=True) for i in range(3) for j in range(2)] + [
        sp.Symbol(f"b[{j}]", real=True) for j in range(2)
    ]
    point = dict(zip(symbols, np.concatenate([values["W"].ravel(), values["b"]])))
    H_sym = np.array(sp.hessian(expr, symbols).subs(point).evalf(), dtype=float)
    assert H_rev.shape == (8, 8)
    np.testing.assert_allclose(H_rev, H_fwd, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H_rev, H_sym, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(H_rev, H_rev.T, rtol=1e-12, atol=1e-14)


def test_hessian_matches_central_differences_of_the_gradient(network):
    y, wrt, values = network
    W = wrt[0]
    grad = gc.grad(y, W)
    H = gc.hessian(y, W, values)
    eps = 1e-5
    for k, index in enumerate(np.ndindex(3, 2)):
        up, down = values["W"].copy(), values["W"].copy()
        up[index] += eps
        down[index] -= eps
        column = (
            gc.evaluate(grad, values | {"W": up}) - gc.evaluate(grad, values | {"W": down})
        ) / (2 * eps)
        np.testing.assert_allclose(H[:, k], column.ravel(), rtol=1e-6, atol=1e-8)


def test_lecture_network_hessian_and_l2_curvature(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    params = gc.params(loss)
    H = gc.hessian(loss, params, values)
    np.testing.assert_allclose(
        H, gc.hessian(loss, params, values, mode="forward"), rtol=1e-12, atol=1e-14
    )
    W = gc.param("W", (4, 3))
    np.testing.assert_array_equal(
        gc.hessian(0.1 * gc.l2(W), W, {"W": values["W"]}), 0.2 * np.eye(12)
    )


def test_bad_hvp_calls_are_refused(network):
    y, wrt, _ = network
    with pytest.raises(gc.GraphError, match="unknown hvp mode 'sideways'"):
        gc.hvp(y, wrt, [np.ones((3, 2)), np.ones(2)], mode="sideways")
    with pytest.raises(gc.GraphError, match="2 wrt nodes but 1 vectors"):
        gc.hvp(y, wrt, [np.ones((3, 2))])
    with pytest.raises(gc.GraphError, match="scalar"):
        gc.hvp(gc.tanh(wrt[1]), wrt[1], np.ones(2))
