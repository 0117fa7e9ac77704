"""Numeric differentiation: schemes, steps, evaluation counts, the complex step, the V-shaped
error-vs-eps curve, float32."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.demo import lecture_network
from graphc.diff.numeric import SCHEMES, default_step
from graphc.diff.studies import dense_layer
from graphc.ops.registry import REGISTRY, apply


def lecture(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    return loss, gc.params(loss), values


def analytic_network(rng, dtype="float64"):
    """A graph made only of analytic ops (complex-step friendly)."""
    x = gc.input("x", (None, 3), dtype)
    t = gc.input("t", (None,), "int64")
    W, b = gc.param("W", (3, 4), dtype=dtype), gc.param("b", (4,), dtype=dtype)
    z = x @ W + b
    h = gc.tanh(z) * gc.sigmoid(z) + gc.softplus(z) / (1.0 + gc.exp(-z))
    y = gc.softmax_cross_entropy(h, t) + gc.mean(gc.logsumexp(h)) + gc.sum(gc.sqrt(b * b + 1.0))
    values = {
        "x": rng.normal(size=(5, 3)).astype(dtype),
        "t": rng.integers(0, 4, 5),
        "W": rng.normal(size=(3, 4)).astype(dtype),
        "b": rng.normal(size=4).astype(dtype),
    }
    return y, [W, b], values


def max_rel(got, want):
    return max(np.abs(g - w).max() / np.abs(w).max() for g, w in zip(got, want))


@pytest.mark.parametrize(
    "scheme, tol", [("forward", 1e-5), ("central", 1e-8), ("five_point", 1e-10)]
)
def test_schemes_agree_with_reverse_on_the_lecture_network(rng, scheme, tol):
    loss, params, values = lecture(rng)
    want = gc.evaluate(gc.grad(loss, params), values)
    got = gc.numeric_grad(loss, params, values, scheme=scheme)
    assert max_rel(got, want) < tol
    assert [g.shape for g in got] == [w.shape for w in want]


def test_evaluation_counts_follow_the_stencil(rng):
    y, params, values = analytic_network(rng)
    n = sum(values[p.name].size for p in params)
    counts = {s: gc.numeric_grad(y, params, values, scheme=s).evaluations for s in SCHEMES}
    assert counts == {"forward": n + 1, "central": 2 * n, "five_point": 4 * n, "complex": n}


def test_complex_step_matches_reverse_to_machine_precision(rng):
    y, params, values = analytic_network(rng)
    want = gc.evaluate(gc.grad(y, params), values)
    got = gc.numeric_grad(y, params, values, scheme="complex")
    assert max_rel(got, want) < 5e-15
    assert max_rel(gc.numeric_grad(y, params, values), want) > 1e-12  # central is not exact


def test_complex_step_refuses_a_kink_naming_the_op_and_its_site():
    x = gc.param("x", (3,))
    y = gc.sum(gc.exp(gc.relu(x)))  # the relu is built on this line
    with pytest.raises(gc.GraphError, match=r"test_numeric.py:\d+: .*'relu' is not"):
        gc.numeric_grad(y, x, {"x": np.ones(3)}, scheme="complex")
    with pytest.raises(gc.GraphError, match="'greater'"):
        gc.numeric_grad(gc.sum(gc.where(x > 0.0, x, 0.0)), x, {"x": np.ones(3)}, scheme="complex")


def test_complex_step_ignores_kinks_off_the_path(rng):
    """Only ops between wrt and the output must be analytic."""
    x, w = gc.input("x", (3,)), gc.param("w", (3,))
    y = gc.sum(gc.relu(x) * gc.tanh(w))
    values = {"x": rng.normal(size=3), "w": rng.normal(size=3)}
    got = gc.numeric_grad(y, w, values, scheme="complex")
    np.testing.assert_allclose(got[0], gc.evaluate(gc.grad(y, w), values), rtol=1e-15)


DIFFERENTIABLE = sorted(
    name for name, op in REGISTRY.items() if not (op.leaf or op.nondiff) and name != "select_mode"
)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_every_ops_complex_step_claim_holds(name, rng):
    """An op that lets the complex step through (OpDef.complex_step) must give reverse mode's
    gradient to machine precision; an op that does not must be refused by name."""
    op = REGISTRY[name]
    for k, (arrays, attrs) in enumerate(op.samples(rng)):
        leaves = [
            gc.param(f"p{k}_{i}", a.shape)
            if a.dtype.kind == "f"
            else gc.input(f"p{k}_{i}", a.shape, a.dtype.name)
            for i, a in enumerate(arrays)
        ]
        out = apply(name, *leaves, **attrs)
        y = gc.sum(
            out
            * gc.const(
                rng.normal(
                    size=gc.evaluate(out, {leaf.name: a for leaf, a in zip(leaves, arrays)}).shape
                )
            )
        )
        values = {leaf.name: a for leaf, a in zip(leaves, arrays)}
        wrt = [leaf for leaf in leaves if leaf.op == "param"]
        if op.complex_step is False:
            with pytest.raises(gc.GraphError, match=f"'{name}' is not"):
                gc.numeric_grad(y, wrt, values, scheme="complex")
            continue
        want = gc.evaluate(gc.grad(y, wrt), values)
        for got, w in zip(gc.numeric_grad(y, wrt, values, scheme="complex"), want):
            np.testing.assert_allclose(got, w, rtol=1e-13, atol=1e-13 * max(1, np.abs(w).max()))


def test_error_against_eps_is_v_shaped_truncation_then_round_off():
    loss, values = dense_layer(3)
    sweep = gc.eps_sweep(loss, gc.params(loss), values)
    eps = np.array(sweep["eps"])
    assert sweep["dtype"] == "float64" and set(sweep["error"]) == {
        "forward",
        "central",
        "five_point",
    }
    for scheme, order in (("forward", 1), ("central", 2), ("five_point", 4)):
        error = np.array(sweep["error"][scheme])
        best = int(np.argmin(error))
        assert 0 < best < len(eps) - 1, f"{scheme}: the minimum must be inside the sweep"
        assert error[0] > 100 * error[best] and error[-1] > 100 * error[best]
        # right of the minimum truncation dominates: the error falls as eps ** order
        big = eps >= 1e-2 if order < 4 else eps >= 10**-1.5
        slope = np.polyfit(np.log10(eps[big]), np.log10(error[big]), 1)[0]
        assert abs(slope - order) < 0.35, (scheme, slope)
        # left of it round-off dominates: the error grows as eps shrinks (slope about -1)
        tiny = eps <= 1e-12
        assert np.polyfit(np.log10(eps[tiny]), np.log10(error[tiny]), 1)[0] < -0.5
    # the best step sits near the dtype-based default: eps ** (1 / (order + 1))
    best_central = eps[int(np.argmin(sweep["error"]["central"]))]
    assert 1e-7 < best_central < 1e-3


def test_float32_graphs_get_float32_steps_and_results(rng):
    y, params, values = analytic_network(rng, "float32")
    want = gc.evaluate(gc.grad(y, params), values)
    central = gc.numeric_grad(y, params, values)
    assert all(g.dtype == np.float32 for g in central)
    assert max_rel(central, want) < 1e-3
    assert max_rel(gc.numeric_grad(y, params, values, scheme="complex"), want) < 1e-5
    b = values["b"].astype(np.float64)
    h32 = default_step("central", np.finfo(np.float32).eps, b)
    h64 = default_step("central", np.finfo(np.float64).eps, b)
    np.testing.assert_allclose(central.steps[1], h32, rtol=1e-6)
    assert np.all(h32 > 500 * h64)  # (eps32 / eps64) ** (1/3) is about 800


def test_step_is_relative_for_large_values():
    steps = default_step("central", 2.0**-52, np.array([0.0, 0.5, 1e6]))
    assert steps[0] == steps[1] and steps[2] == pytest.approx(1e6 * steps[0])


def test_gradient_with_respect_to_an_intermediate_node(rng):
    x, W = gc.input("x", (None, 3)), gc.param("W", (3, 2))
    h = gc.named(gc.tanh(x @ W), "h")
    y = gc.sum(h * h) + gc.sum(W)
    values = {"x": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 2))}
    got = gc.numeric_grad(y, [h, W], values)
    want = gc.evaluate(gc.grad(y, [h, W]), values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)


def test_bad_requests_are_refused(rng):
    x = gc.param("x", (3,))
    y = gc.sum(x * x)
    values = {"x": np.ones(3)}
    with pytest.raises(gc.GraphError, match="scheme"):
        gc.numeric_grad(y, x, values, scheme="backward")
    with pytest.raises(gc.GraphError, match="eps"):
        gc.numeric_grad(y, x, values, eps=-1e-3)
    with pytest.raises(gc.GraphError, match="scalar"):
        gc.numeric_grad(x * 2.0, x, values)
    labels = gc.input("labels", (3,), "int64")
    with pytest.raises(gc.GraphError, match="labels.*int64"):
        gc.numeric_grad(y, labels, values | {"labels": np.zeros(3, int)})
    with pytest.raises(gc.MissingValueError, match="'x'"):
        gc.numeric_grad(y, x, {})


def test_values_are_not_modified(rng):
    loss, params, values = lecture(rng)
    before = {k: np.array(v, copy=True) for k, v in values.items()}
    gc.numeric_grad(loss, params, values, scheme="five_point")
    assert all(np.array_equal(values[k], before[k]) for k in before)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**16))
def test_central_differences_agree_with_reverse_on_random_layers(batch, width, seed):
    rng = np.random.default_rng(seed)
    x, W = gc.input("x", (None, width)), gc.param("W", (width, 2))
    y = gc.sum(gc.softplus(x @ W) * gc.sigmoid(x @ W))
    values = {"x": rng.normal(size=(batch, width)), "W": rng.normal(size=(width, 2))}
    np.testing.assert_allclose(
        gc.numeric_grad(y, W, values)[0], gc.evaluate(gc.grad(y, W), values), rtol=1e-7, atol=1e-9
    )


def test_float32_sweep_bottoms_out_at_a_larger_step(rng):
    y, params, values = analytic_network(rng, "float32")
    sweep = gc.eps_sweep(y, params, values, schemes=("central",))
    eps, error = np.array(sweep["eps"]), np.array(sweep["error"]["central"])
    assert sweep["dtype"] == "float32" and eps[-1] >= 1e-7  # no steps below float32's reach
    best = eps[int(np.argmin(error))]
    assert 1e-4 <= best <= 1e-1 and error.min() < 1e-2 < error[-1]


@pytest.mark.parametrize("eps", [["a"], 1e-3, [1e-3, np.nan]])
def test_eps_sweep_refuses_steps_that_are_not_a_list_of_positive_numbers(eps):
    w = gc.param("w", (2,))
    with pytest.raises(gc.GraphError, match="eps"):  # raw ValueError/TypeError before
        gc.eps_sweep(gc.sum(w * w), w, {"w": np.ones(2)}, eps=eps)
