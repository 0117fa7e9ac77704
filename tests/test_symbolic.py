"""Symbolic mode: the graph in SymPy, sympy.diff, and the derivative back as graph nodes."""

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.demo import lecture_network
from graphc.diff.from_sympy import SympyToGraph


@pytest.fixture
def lecture(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    return loss, values


def test_symbolic_gradient_of_the_lecture_network_matches_reverse(lecture):
    loss, values = lecture
    x = next(leaf for leaf in gc.inputs(loss) if leaf.name == "x")
    wrt = gc.params(loss) + [x]
    symbolic = gc.evaluate(gc.grad(loss, wrt, mode="symbolic", values=values), values)
    for got, want in zip(symbolic, gc.evaluate(gc.grad(loss, wrt), values)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_to_sympy_gives_the_textbook_expression():
    x, w = gc.param("x", (2,)), gc.param("w", ())
    expr = gc.to_sympy(gc.sum(gc.tanh(x * w)))
    x0, x1, w_ = (
        sp.Symbol("x[0]", real=True),
        sp.Symbol("x[1]", real=True),
        sp.Symbol("w", real=True),
    )
    assert sp.simplify(expr - (sp.tanh(x0 * w_) + sp.tanh(x1 * w_))) == 0
    array = gc.to_sympy(x * 2.0)
    assert array.shape == (2,) and array[1] == 2 * x1


def test_l2_gradient_is_exactly_two_lambda_w(rng):
    W = gc.param("W", (3, 2))
    g = gc.grad(0.01 * gc.l2(W), W, mode="symbolic")
    w = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(gc.evaluate(g, {"W": w}), 2 * 0.01 * w)


def test_batch_shapes_come_from_values_or_shapes(lecture):
    loss, values = lecture
    W = gc.params(loss)[0]
    with pytest.raises(gc.GraphError, match=r"'x' has the batch shape \(None, 4\)"):
        gc.grad(loss, W, mode="symbolic", values={"y": values["y"]})
    with pytest.raises(gc.GraphError, match=r"value of input 'y'.*int64 leaves are baked"):
        gc.grad(loss, W, mode="symbolic", shapes={"x": (8, 4)})
    g = gc.grad(loss, W, mode="symbolic", shapes={"x": (8, 4)}, values={"y": values["y"]})
    np.testing.assert_allclose(
        gc.evaluate(g, values), gc.evaluate(gc.grad(loss, W), values), rtol=1e-12
    )


def test_the_size_cap_refuses_with_the_estimated_size(lecture):
    loss, values = lecture
    with pytest.raises(gc.GraphError, match=r"about [\d,]+ operations .* max_ops=5,000"):
        gc.grad(loss, gc.params(loss), mode="symbolic", values=values, max_ops=5000)
    with pytest.raises(gc.GraphError, match=r"[\d,]+ scalar elements.*max_ops=10\)"):
        gc.to_sympy(loss, values=values, max_ops=10)


def test_swell_grows_with_depth_and_cse_shrinks_it(rng):
    x = gc.input("x", (None, 2))
    h, sizes = x, []
    for depth in range(1, 4):
        h = gc.tanh(h @ gc.param(f"W{depth}", (2, 2)))
        loss = gc.sum(h)
        values = gc.init_params(loss) | {"x": rng.normal(size=(1, 2))}
        sizes.append(gc.symbolic_swell(loss, gc.params(loss), values))
    ops, ops_cse = [s["ops"] for s in sizes], [s["ops_cse"] for s in sizes]
    assert ops[0] < ops[1] < ops[2] and all(c < o for c, o in zip(ops_cse, ops))
    assert ops[2] / ops_cse[2] > 3  # the swell is repeated subexpressions
    assert sizes[2]["elements"] == 12


def test_training_mode_is_specialized_before_translation(rng):
    x = gc.input("x", (4, 3))  # a fixed batch: the weights below have 4 rows
    gamma, beta = gc.param("gamma", (3,), init=1.5), gc.param("beta", (3,))
    y = gc.sum(gc.dropout(gc.batch_norm(x, gamma, beta), 0.3, seed=1) * rng.normal(size=(4, 3)))
    values = {"x": rng.normal(size=(4, 3)), "gamma": rng.normal(size=3), "beta": np.ones(3)}
    for training in (True, False):
        got = gc.grad(y, [gamma, beta], mode="symbolic", values=values, training=training)
        for a, b in zip(
            gc.evaluate(got, values),
            gc.evaluate(gc.grad(y, [gamma, beta]), values, training=training),
        ):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_converter_handles_every_head_it_names(rng):
    a, b = sp.Symbol("a", real=True), sp.Symbol("b", real=True)
    exprs = [
        sp.Max(a, b, 0.5),
        sp.Min(a, b),
        sp.Heaviside(a - b),
        sp.Abs(a) * sp.sign(b),
        sp.Piecewise((a, sp.And(a > 0, b < 1)), (b, sp.Or(a < -1, sp.Ne(b, 2))), (1, True)),
        a**3 / (b**2 + 1) - sp.sqrt(b**2 + 1) + sp.Rational(1, 3) * sp.exp(-a),
        sp.log(b**2 + 1) * sp.tanh(a) - 2 * sp.DiracDelta(a),
        (a**2 + 1) ** 1.5 + sp.E * b,
        sp.Piecewise((a, sp.ITE(a > 0, b > 0, a < -1)), (b, True)),
    ]
    A, B = gc.param("a", ()), gc.param("b", ())
    flag = sp.Symbol("flag")  # a boolean temporary, as sympy.cse makes them
    convert = SympyToGraph({a: A, b: B})
    convert.symbols[flag] = convert(sp.And(a > 0, b < 0))
    exprs.append(sp.Piecewise((a, sp.ITE(flag, flag, b > a)), (-b, True)))
    for va, vb in rng.normal(size=(6, 2)) * 2:
        for e in exprs:
            point = {a: va, b: vb, flag: va > 0 and vb < 0}
            want = float(e.subs(point).subs(sp.DiracDelta(va), 0))
            assert gc.evaluate(convert(e), {"a": va, "b": vb}) == pytest.approx(want, rel=1e-12)
    with pytest.raises(gc.GraphError, match="unknown symbol c"):
        convert(sp.Symbol("c") + a)
    with pytest.raises(gc.GraphError, match="cannot turn the SymPy cos"):
        convert(sp.cos(a))


def test_gradient_with_respect_to_inner_logits_is_p_minus_y_over_batch(rng):
    loss, logits = lecture_network(n_in=4, n_classes=3, l2=0.1)
    labels = rng.integers(0, 3, 8)
    values = gc.init_params(loss) | {"x": rng.normal(size=(8, 4)), "y": labels}
    got = gc.evaluate(gc.grad(loss, logits, mode="symbolic", values=values), values)
    z = gc.evaluate(logits, values)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, (p - np.eye(3)[labels]) / 8, rtol=1e-12, atol=1e-15)


def test_baked_in_values_and_shapes_that_do_not_fit_are_graph_errors():
    x, y = gc.input("x", (None, 3)), gc.input("y", (None,), "int64")
    loss = gc.softmax_cross_entropy(x, y)
    with pytest.raises(gc.ShapeError, match="'y' has shape"):  # a label array of rank 2
        gc.to_sympy(loss, {"x": np.ones((2, 3)), "y": np.array([[0, 1]])})
    with pytest.raises(gc.GraphError, match="mul"):  # two batch sizes that do not broadcast
        a, b = gc.input("a", (None, 3)), gc.input("b", (None, 3))
        gc.to_sympy(gc.sum(a * b), shapes={"a": (2, 3), "b": (3, 3)})
