"""Differentiation four ways, agreeing: reverse, forward, symbolic and numeric on every op of
the registry, on random composed graphs, and on the lecture's network."""

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import graphc as gc
from graphc.demo import lecture_network
from graphc.ops.registry import FLOAT_DTYPES, REGISTRY, apply
from graphs import random_graphs

OPS = sorted(name for name, op in REGISTRY.items() if not op.leaf)
EXACT = 1e-12  # reverse, forward and symbolic: the same derivative, computed three ways
NUMERIC = 1e-7  # central differences in float64
SETTINGS = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def projection(name: str, shape: tuple) -> np.ndarray:
    """A fixed random array that turns an op's output into a scalar: sum(out * R)."""
    return np.random.default_rng(zlib.crc32(name.encode())).normal(size=shape)


def draw_like(data, sample: np.ndarray, positive: bool) -> np.ndarray:
    """A hypothesis-chosen array shaped and typed like a sample input."""
    if sample.dtype == bool:
        return data.draw(arrays(bool, sample.shape))
    if sample.dtype.kind in "iu":
        low, high = int(sample.min()), int(sample.max())
        return data.draw(arrays(sample.dtype, sample.shape, elements=st.integers(low, high)))
    low, high = (0.5, 2.0) if positive else (-2.0, 2.0)
    return data.draw(
        arrays(np.float64, sample.shape, elements=st.floats(low, high, allow_subnormal=False))
    )


def off_kinks(kink, values: list[np.ndarray]) -> list[np.ndarray]:
    """Move the first input away from the op's kinks (where kink(...) is near 0)."""
    if kink is None:
        return values
    near = np.abs(kink(*values)) < 0.05
    if near.any() and near.shape == values[0].shape:
        values = [np.where(near, values[0] + 0.1, values[0]), *values[1:]]
    assume(np.all(np.abs(kink(*values)) >= 0.05))
    return values


def assert_close(got, want, rtol, scale=None):
    """Arrays equal to `rtol` relative to the larger of 1 and the reference's magnitude."""
    for g, w in zip(got, want):
        size = max(1.0, float(np.max(np.abs(w), initial=0.0))) if scale is None else scale
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * size)


def four_ways(y, wrt, values, training=False, max_ops=None):
    """The gradient of y by each method, as lists of arrays (symbolic: None when the
    expression is above `max_ops`)."""
    grads = {
        "reverse": gc.evaluate(gc.grad(y, wrt), values, training=training),
        "forward": gc.evaluate(
            gc.grad(y, wrt, mode="forward", values=values), values, training=training
        ),
        "numeric": list(gc.numeric_grad(y, wrt, values, training=training)),
    }
    cap = {} if max_ops is None else {"max_ops": max_ops}
    try:
        symbolic = gc.grad(y, wrt, mode="symbolic", values=values, training=training, **cap)
    except gc.GraphError as error:
        if max_ops is None or "above the cap" not in str(error):
            raise
        grads["symbolic"] = None
    else:
        grads["symbolic"] = gc.evaluate(symbolic, values, training=training)
    return grads


def check_inner_product(node, wrt, values, rng):
    """<u, VJP(v)> = <JVP(u), v> for random u (tangents of wrt) and v (cotangent of node)."""
    u = [rng.normal(size=np.shape(values[w.name])) for w in wrt]
    v = rng.normal(size=gc.evaluate(node, values).shape)
    (tangent,) = gc.jvp([node], wrt, u)
    cotangent = gc.input("cotangent", node.shape)  # an input: node may have a batch axis
    cotangents = gc.evaluate(gc.vjp([node], [cotangent], wrt), values | {"cotangent": v})
    lhs = sum(float(np.sum(a * b)) for a, b in zip(u, cotangents))
    rhs = float(np.sum(gc.evaluate(tangent, values) * v))
    assert lhs == pytest.approx(rhs, rel=EXACT, abs=EXACT)


@pytest.mark.parametrize("name", OPS)
@SETTINGS
@given(data=st.data())
def test_every_op_differentiates_the_same_four_ways(name, data):
    op = REGISTRY[name]
    if op.samples is None:
        pytest.skip(
            f"{name} has no samples: it is resolved by gc.specialize before any "
            "differentiation (covered through batch norm and dropout)"
        )
    for k, (samples, attrs) in enumerate(op.samples(np.random.default_rng(0))):
        positive = all(np.all(s > 0) for s in samples if s.dtype.kind == "f")
        arrays_ = off_kinks(op.kink, [draw_like(data, s, positive) for s in samples])
        leaves = [gc.input(f"a{i}", s.shape, s.dtype.name) for i, s in enumerate(samples)]
        values = {leaf.name: a for leaf, a in zip(leaves, arrays_)}
        node = apply(name, *leaves, **attrs)
        y = gc.sum(node * gc.const(projection(name, node.shape)))
        wrt = [leaf for leaf in leaves if leaf.dtype in FLOAT_DTYPES]
        if not wrt:
            continue  # integer labels only (one_hot): nothing to differentiate
        grads = four_ways(y, wrt, values)
        for method in ("forward", "symbolic"):
            assert_close(grads[method], grads["reverse"], EXACT)
        assert_close(grads["numeric"], grads["reverse"], NUMERIC)
        if op.nondiff:
            assert all(np.all(g == 0) for g in grads["reverse"])
        if node.dtype in FLOAT_DTYPES:
            check_inner_product(node, wrt, values, np.random.default_rng(k))
        check_second_order(y, wrt, values, np.random.default_rng(k))


def check_second_order(y, wrt, values, rng):
    """The op's derivative rules are themselves differentiable: reverse over reverse and
    forward over reverse give the same Hessian-vector product."""
    # the vectors are inputs shaped like wrt: a batch-wide wrt needs a batch-wide vector
    v = [gc.input(f"vector:{w.name}", w.shape, w.dtype) for w in wrt]
    values = values | {h.name: rng.normal(size=np.shape(values[w.name])) for h, w in zip(v, wrt)}
    rr = gc.evaluate(gc.hvp(y, wrt, v, mode="reverse"), values)
    fr = gc.evaluate(gc.hvp(y, wrt, v, mode="forward"), values)
    assert_close(fr, rr, 1e-11)


def graph_kinks(outputs, values) -> list[np.ndarray]:
    """The kink function of every kinked op in the graph, evaluated."""
    kinked = [n for n in gc.topological_order(outputs) if REGISTRY[n.op].kink is not None]
    inputs = gc.evaluate([i for n in kinked for i in n.inputs], values)
    found, position = [], 0
    for n in kinked:
        found.append(REGISTRY[n.op].kink(*inputs[position : position + len(n.inputs)]))
        position += len(n.inputs)
    return found


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(random_graphs(max_ops=6))
def test_random_graphs_differentiate_the_same_four_ways(case):
    outputs, values = case
    for k in graph_kinks(outputs, values):  # exact zeros are structural (relu(x) for x < 0)
        assume(np.all((np.abs(k) > 1e-3) | (k == 0)))
    y = None
    for i, out in enumerate(outputs):  # an input, not a const: out may have a batch axis
        weights = gc.input(f"projection{i}", out.shape)
        values = values | {weights.name: projection(f"out{i}", gc.evaluate(out, values).shape)}
        term = gc.sum(out * weights)
        y = term if y is None else y + term
    value = gc.evaluate(y, values)
    assume(np.isfinite(value) and abs(value) < 1e6)
    wrt = [
        leaf
        for leaf in gc.leaves(y)
        if leaf.op in ("input", "param") and not leaf.name.startswith("projection")
    ]
    grads = four_ways(y, wrt, values, max_ops=20_000)  # a deep random graph swells fast
    assume(all(np.all(np.isfinite(g)) for g in grads["reverse"]))
    scale = max([1.0] + [float(np.max(np.abs(g))) for g in grads["reverse"]])
    for method in ("forward", "symbolic"):
        if grads[method] is not None:
            assert_close(grads[method], grads["reverse"], 1e-11, scale)
    assert_close(grads["numeric"], grads["reverse"], 1e-6, scale)
    check_second_order(y, wrt, values, np.random.default_rng(0))


@pytest.mark.parametrize("training", [False, True])
def test_lecture_network_agrees_in_every_mode(training, rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    params = gc.params(loss)
    assert [p.name for p in params] == ["W", "b", "alpha"]
    grads = four_ways(loss, params, values, training)
    for method in ("forward", "symbolic"):
        assert_close(grads[method], grads["reverse"], EXACT)
    assert_close(grads["numeric"], grads["reverse"], NUMERIC)


@pytest.mark.parametrize("mode", ["reverse", "forward", "symbolic"])
def test_l2_gradient_is_exactly_two_lambda_w_in_every_mode(mode, rng):
    W = gc.param("W", (4, 3))
    w = rng.normal(size=(4, 3))
    g = gc.grad(1e-3 * gc.l2(W), W, mode=mode, values={"W": w})
    np.testing.assert_array_equal(gc.evaluate(g, {"W": w}), 2 * 1e-3 * w)


def tanh_chain(n_ops: int):
    x = gc.param("x", (4,))
    h = x
    for _ in range(n_ops // 2):
        h = gc.tanh(h) * 0.9
    return gc.sum(h), x


def test_a_long_chain_differentiates_and_the_gradient_grows_linearly():
    # how long it takes is measured in benchmarks/scaling.py; here, how much it builds
    ratios = []
    for n_ops in (500, 2000):
        y, x = tanh_chain(n_ops)
        g = gc.grad(y, x)
        ratios.append(len(gc.topological_order(g)) / len(gc.topological_order(y)))
    assert ratios[1] < 4 and abs(ratios[1] - ratios[0]) < 0.05  # a small, constant ratio
    value = gc.evaluate(g, {"x": np.full(4, 0.3)})
    assert value.shape == (4,) and np.all(np.isfinite(value))


def test_regressions_found_by_the_random_graphs(rng):
    # a param broadcast to a batch shape: its cotangent sums (None, 4) down to (4,)
    x, W = gc.input("x", (None, 4)), gc.param("W", (4,))
    y = gc.sum(gc.tanh(apply("broadcast_like", W, x) * x))
    values = {"x": rng.normal(size=(4, 4)), "W": rng.normal(size=(4,))}
    grads = four_ways(y, [W, x], values)
    for method in ("forward", "symbolic", "numeric"):
        assert_close(grads[method], grads["reverse"], EXACT if method != "numeric" else NUMERIC)
    # SymPy's constant E in a derivative: exp(1) of a const 1 becomes E
    s = gc.param("s", ())
    g = gc.grad(gc.exp(s) * gc.exp(gc.const(1.0)), s, mode="symbolic")
    assert gc.evaluate(g, {"s": 0.5}) == pytest.approx(np.exp(1.5), rel=1e-15)
    # a fused op on 0-d inputs: its SymPy hook must return an array
    t = gc.param("t", ())
    y = apply("prelu_vjp_alpha", s, t, axis=(), lead=0)
    grads = four_ways(y, [s, t], {"s": -0.5, "t": 2.0})
    assert_close(grads["symbolic"], grads["reverse"], EXACT)
