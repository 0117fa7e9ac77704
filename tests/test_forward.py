"""Forward mode: gc.jvp as a graph transformation and the gradient by one JVP per element."""

import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network


@pytest.fixture
def lecture(rng):
    loss, logits = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    return loss, logits, values


def test_jvp_agrees_with_vjp_by_the_inner_product(lecture, rng):
    loss, logits, values = lecture
    params = gc.params(loss)
    u = [rng.normal(size=p.shape) for p in params]
    v = rng.normal(size=(8, 3))
    (tangent,) = gc.jvp([logits], params, u)
    cotangents = gc.vjp([logits], [gc.input("v", (None, 3))], params)  # batch-wide, like logits
    lhs = sum(np.sum(a * b) for a, b in zip(u, gc.evaluate(cotangents, values | {"v": v})))
    rhs = np.sum(gc.evaluate(tangent, values) * v)
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_forward_gradient_equals_reverse_and_counts_one_jvp_per_element(lecture):
    loss, _, values = lecture
    params = gc.params(loss)
    reverse = gc.evaluate(gc.grad(loss, params), values)
    as_graph = gc.evaluate(gc.grad(loss, params, mode="forward"), values)
    evaluated = gc.forward_gradient(loss, params, values)
    assert evaluated.jvp_evaluations == gc.forward_jvp_count(loss, params) == 12 + 3 + 3
    for r, f, e in zip(reverse, as_graph, evaluated.gradients):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(e, r, rtol=1e-12, atol=1e-15)


def test_forward_gradient_for_an_input_with_a_batch_dimension(lecture):
    loss, logits, values = lecture
    (x,) = [leaf for leaf in gc.inputs(loss) if leaf.name == "x"]
    with pytest.raises(gc.GraphError, match=r"batch shape \(None, 4\).*values= or shapes="):
        gc.grad(loss, x, mode="forward")
    got = gc.grad(loss, x, mode="forward", shapes={"x": (8, 4)})
    np.testing.assert_allclose(
        gc.evaluate(got, values), gc.evaluate(gc.grad(loss, x), values), rtol=1e-12, atol=1e-15
    )
    assert gc.forward_jvp_count(loss, x, values=values) == 32
    z = logits.inputs[0]  # an inner node with a batch dimension: x @ W + b
    assert z.op == "add" and z.shape == (None, 3)
    got = gc.grad(loss, z, mode="forward", values=values)
    np.testing.assert_allclose(
        gc.evaluate(got, values), gc.evaluate(gc.grad(loss, z), values), rtol=1e-12, atol=1e-15
    )


def test_tangents_broadcast_and_sum_where_paths_meet():
    x = gc.param("x", (3,))
    b = gc.param("b", ())
    e = gc.exp(x + b)
    y = e * e + e
    X = np.array([0.0, 0.5, -1.0])
    (t,) = gc.jvp([y], [b], [1.0])  # a scalar tangent flows into a vector
    ex = np.exp(X + 0.3)
    np.testing.assert_allclose(gc.evaluate(t, {"x": X, "b": 0.3}), 2 * ex * ex + ex, rtol=1e-14)


def test_outputs_that_do_not_depend_on_wrt_get_zero_tangents():
    x, z = gc.param("x", (2, 3)), gc.param("z", (4,))
    (t,) = gc.jvp([gc.tanh(x)], [z], [np.ones(4)])
    np.testing.assert_array_equal(gc.evaluate(t, {"x": np.ones((2, 3)), "z": np.ones(4)}), 0)


def test_jvp_with_respect_to_an_intermediate_node_matches_reverse(rng):
    x = gc.param("x", (4,))
    h = gc.named(gc.sigmoid(x) * 2.0, "h")
    y = gc.sum(gc.tanh(h) * h)
    X = rng.normal(size=4)
    np.testing.assert_allclose(
        gc.evaluate(gc.grad(y, h, mode="forward"), {"x": X}),
        gc.evaluate(gc.grad(y, h), {"x": X}),
        rtol=1e-13,
    )


def test_batch_norm_and_dropout_in_training_mode(rng):
    x = gc.input("x", (5, 3))  # a fixed batch: the const below has 5 rows
    gamma, beta = gc.param("gamma", (3,), init=1.5), gc.param("beta", (3,))
    h = gc.dropout(gc.batch_norm(x, gamma, beta), 0.3, seed=2)
    y = gc.sum(h * gc.const(rng.normal(size=(5, 3))))
    values = {"x": rng.normal(size=(5, 3)), "gamma": rng.normal(size=3), "beta": np.ones(3)}
    for training in (True, False):
        want = [gc.evaluate(g, values, training=training) for g in gc.grad(y, [gamma, beta])]
        got = gc.forward_gradient(y, [gamma, beta], values, training=training).gradients
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_bad_tangents_and_wrt_are_refused():
    x = gc.param("x", (3,))
    labels = gc.input("labels", (3,), "int64")
    with pytest.raises(gc.GraphError, match="tangent for x has shape"):
        gc.jvp([gc.exp(x)], [x], [np.ones(4)])
    with pytest.raises(gc.GraphError, match="2 tangents"):
        gc.jvp([gc.exp(x)], [x], [np.ones(3), np.ones(3)])
    with pytest.raises(gc.GraphError, match="dtype int64"):
        gc.jvp([gc.one_hot(labels, 3)], [labels], [np.ones(3)])
    with pytest.raises(gc.GraphError, match="scalar"):
        gc.grad(gc.exp(x), x, mode="forward")
    with pytest.raises(gc.GraphError, match=r"forward mode takes the options .* not \['max_ops'\]"):
        gc.grad(gc.sum(x), x, mode="forward", max_ops=10)


def test_array_tangents_take_the_dtype_of_their_wrt_so_float32_stays_float32():
    w = gc.param("w", (2,), dtype="float32")
    y = gc.sum(gc.tanh(w) * w)
    (t,) = gc.jvp([y], [w], [np.ones(2)])  # a float64 array: the direction, not the precision
    assert t.dtype == "float32"
    assert gc.hvp(y, w, np.ones(2)).dtype == "float32"
    assert gc.hvp(y, w, np.ones(2), mode="forward").dtype == "float32"


def test_a_numpy_scalar_tangent_is_one_tangent():
    w = gc.param("w", (), dtype="float32")
    (t,) = gc.jvp(w * w, w, np.float32(1.0))  # was a raw TypeError: not iterable
    assert t.dtype == "float32" and gc.evaluate(t, {"w": np.float32(3.0)}) == 6.0
