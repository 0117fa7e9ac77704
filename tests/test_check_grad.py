"""gc.check_grad: names the element that disagrees, handles kinks, frozen dropout masks and
batch norm's coupling across the batch."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.demo import lecture_network
from graphc.ops.registry import REGISTRY


def test_lecture_network_passes_with_a_readable_report(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(8, 4)),
        "y": rng.integers(0, 3, 8),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    result = gc.check_grad(loss, gc.params(loss), values)
    assert result and result.checked == 4 * 3 + 3 + 3 and not result.kinks
    assert str(result).startswith("gradient check passed: 18 elements agree")
    assert repr(result) == str(result) and result._repr_html_().startswith("<pre>")
    assert result.evaluations == 2 * 18 + 1  # the stencil plus one base evaluation
    json.dumps(result.to_dict())


def test_a_wrong_vjp_rule_is_caught_and_the_element_named(rng, monkeypatch):
    tanh = REGISTRY["tanh"]
    # the classic slip: d tanh = 1 - y instead of 1 - y**2
    monkeypatch.setitem(
        REGISTRY, "tanh", dataclasses.replace(tanh, vjp=(lambda g, n: g * (1.0 - n),))
    )
    x, W = gc.input("x", (None, 2)), gc.param("W", (2, 3))
    y = gc.sum(gc.tanh(x @ W) * gc.const([1.0, 0.0, 0.0]))  # only column 0 reaches y
    values = {"x": rng.normal(size=(4, 2)), "W": rng.normal(size=(2, 3))}
    result = gc.check_grad(y, W, values)
    assert not result
    assert {m.element for m in result.mismatches} == {"W[0, 0]", "W[1, 0]"}
    worst = result.mismatches[0]
    assert worst.abs_error == max(m.abs_error for m in result.mismatches) > 1e-2
    text = str(result)
    assert "FAILED: 2 of 6 elements disagree" in text and worst.element in text
    assert json.loads(json.dumps(result.to_dict()))["mismatches"][0]["element"] == worst.element
    monkeypatch.undo()
    assert gc.check_grad(y, W, values)


KINKED = {
    "relu": gc.relu,
    "prelu": lambda x: gc.prelu(x, 0.3),
    "abs": gc.abs,
    "maximum": lambda x: gc.maximum(x, gc.const(np.zeros(3))),
}


@pytest.mark.parametrize("op", sorted(KINKED))
def test_kinks_are_moved_off_or_skipped_not_failed(op):
    x = gc.param("x", (3,))
    y = gc.sum(KINKED[op](x) * gc.const([1.0, 2.0, 3.0]))
    values = {"x": np.array([0.0, 1e-9, 0.7])}  # on the kink, just beside it, far from it
    result = gc.check_grad(y, x, values)
    assert result, str(result)
    on, beside = result.kinks
    assert on.element == "x[0]" and on.step is None and op in on.ops[0]
    assert beside.element == "x[1]" and beside.step is not None and beside.step < 1e-9
    assert result.checked == 2 and "skipped (on the kink" in str(result)
    assert not gc.check_grad(y, x, values, kinks="ignore")  # the chord is not the derivative
    flagged = gc.check_grad(y, x, values, kinks="flag")
    assert flagged and flagged.checked == 1 and all(k.step is None for k in flagged.kinks)


def test_a_switch_built_from_a_comparison_is_flagged():
    x = gc.param("x", (2,))
    y = gc.sum(gc.where(x > 0.0, x, 0.1 * x))
    result = gc.check_grad(y, x, {"x": np.array([0.0, 1.0])})
    assert result and [k.element for k in result.kinks] == ["x[0]"]
    assert "greater" in result.kinks[0].ops[0]


def dropout_net(rng):
    x, W = gc.input("x", (None, 4)), gc.param("W", (4, 3))
    y = gc.sum(gc.tanh(gc.dropout(x @ W, rate=0.5, seed=7)) ** 2.0)
    return y, W, {"x": rng.normal(size=(5, 4)), "W": rng.normal(size=(4, 3))}


def test_dropout_masks_are_frozen_in_training_mode(rng):
    y, W, values = dropout_net(rng)
    train = gc.check_grad(y, W, values, training=True)
    assert train and not train.kinks
    grads = gc.evaluate([gc.grad(y, W)], values, training=True)[0]
    assert not np.allclose(grads, gc.evaluate(gc.grad(y, W), values))  # the mask matters


def test_a_mask_that_changes_between_evaluations_is_caught(rng, monkeypatch):
    y, W, values = dropout_net(rng)
    draws = np.random.default_rng(1)

    def unseeded(x, rate, seed):
        return (draws.random(np.shape(x)) >= rate).astype(x.dtype) / (1.0 - rate)

    monkeypatch.setitem(
        REGISTRY, "dropout_mask", dataclasses.replace(REGISTRY["dropout_mask"], kernel=unseeded)
    )
    result = gc.check_grad(y, W, values, training=True)
    assert len(result.kinks) == 12 and result.checked == 0
    assert all("dropout_mask" in k.ops[0] for k in result.kinks)


def test_batch_norm_couples_the_batch_and_still_checks(rng):
    x, gamma, beta = gc.param("x", (6, 3)), gc.param("gamma", (3,)), gc.param("beta", (3,))
    weights = gc.const(rng.normal(size=(6, 3)))
    y = gc.sum(gc.tanh(gc.batch_norm(x, gamma, beta)) * weights)
    values = {
        "x": rng.normal(size=(6, 3)),
        "gamma": rng.normal(size=3) + 1.0,
        "beta": rng.normal(size=3),
    }
    for training in (True, False):
        result = gc.check_grad(y, [x, gamma, beta], values, training=training)
        assert result and result.checked == 24, str(result)
    # in training mode every output depends on every input of its feature column: the
    # gradient with respect to x[0, 0] changes when another example of the batch changes
    grad_x = gc.grad(y, x)
    moved = values | {"x": values["x"] + np.eye(6, 3)[::-1] * 0.5}  # touches x[5, 0] only
    changed = (
        gc.evaluate(grad_x, moved, training=True)[0, 0]
        - gc.evaluate(grad_x, values, training=True)[0, 0]
    )
    assert abs(changed) > 1e-3
    frozen = gc.evaluate(grad_x, moved)[0, 0] - gc.evaluate(grad_x, values)[0, 0]
    assert frozen == 0.0  # inference uses the running statistics: no coupling
    assert values["x"].shape == (6, 3) and not any(k.startswith("gamma.") for k in values)


def test_float32_and_other_modes_and_schemes(rng):
    x, W = gc.input("x", (None, 3), "float32"), gc.param("W", (3, 2), dtype="float32")
    y = gc.mean(gc.sigmoid(x @ W))
    values = {
        "x": rng.normal(size=(4, 3)).astype("float32"),
        "W": rng.normal(size=(3, 2)).astype("float32"),
    }
    for scheme in ("forward", "central", "five_point", "complex"):
        result = gc.check_grad(y, W, values, scheme=scheme)
        assert result, str(result)
        assert result.rtol > 1e-6  # float32 tolerances, not float64 ones
    assert gc.check_grad(y, W, values, mode="forward")
    assert gc.check_grad(y, W, values, mode="symbolic")


def test_bad_arguments(rng):
    x = gc.param("x", (2,))
    with pytest.raises(gc.GraphError, match="kinks"):
        gc.check_grad(gc.sum(x), x, {"x": np.ones(2)}, kinks="avoid")
    with pytest.raises(gc.GraphError, match="'relu' is not"):
        gc.check_grad(gc.sum(gc.relu(x)), x, {"x": np.ones(2)}, scheme="complex")


def test_high_curvature_is_not_called_a_mismatch():
    """exp(b³) at b = 2: central differences with the default step are 4.4e-9 off (the
    third derivative is large), past rtol 3.7e-9; the check extrapolates from two steps
    before it calls the element wrong (found by the property test below; a wrong rule is
    still caught: test_a_wrong_vjp_rule_is_caught_and_the_element_named)."""
    b = gc.param("b", (3,))
    cube = b * (b * b)
    loss = gc.sum(gc.exp(cube) * gc.const([1.0, -2.0, 0.5])) + gc.sum(cube)
    result = gc.check_grad(loss, b, {"b": np.array([0.0, 0.0, 2.0])})
    assert result, str(result)


UNARY = [
    gc.tanh,
    gc.sigmoid,
    gc.relu,
    gc.abs,
    gc.softplus,
    lambda x: gc.leaky_relu(x, 0.2),
    lambda x: x * x,
    gc.exp,
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a * b,
    gc.maximum,
    gc.minimum,
    gc.prelu,
    lambda a, b: a - 0.5 * b,
]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 7), st.integers(0, 99), st.integers(0, 99)),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.sampled_from([0.0, -1.0, 1.0, 0.5, -0.25, 1e-9, 2.0]), min_size=6, max_size=6),
)
def test_random_graphs_with_kinks_always_check(steps, entries):
    """Values drawn from a lattice put many elements exactly on kinks; the check must move
    off them or skip them, never fail."""
    a, b = gc.param("a", (3,)), gc.param("b", (3,))
    nodes = [a, b]
    for binary, op, i, j in steps:
        x, y = nodes[i % len(nodes)], nodes[j % len(nodes)]
        nodes.append(BINARY[op % len(BINARY)](x, y) if binary else UNARY[op](x))
    loss = gc.sum(nodes[-1] * gc.const([1.0, -2.0, 0.5])) + gc.sum(nodes[-2])
    values = {"a": np.array(entries[:3]), "b": np.array(entries[3:])}
    result = gc.check_grad(loss, [a, b], values)
    assert result, str(result)


def test_large_layers_can_be_spot_checked(rng, monkeypatch):
    x, W = gc.input("x", (None, 20)), gc.param("W", (20, 30))
    y = gc.sum(gc.tanh(x @ W))
    values = {"x": rng.normal(size=(4, 20)), "W": 0.1 * rng.normal(size=(20, 30))}
    spot = gc.check_grad(y, W, values, max_elements=25)
    assert spot and spot.checked == 25 and spot.evaluations == 2 * 25 + 1
    assert spot.total == 600 and "a random sample of 600 elements" in str(spot)
    tanh = REGISTRY["tanh"]
    monkeypatch.setitem(
        REGISTRY, "tanh", dataclasses.replace(tanh, vjp=(lambda g, n: g * (1.0 - n),))
    )
    bad = gc.check_grad(y, W, values, max_elements=25)
    again = gc.check_grad(y, W, values, max_elements=25)
    assert not bad and 0 < len(bad.mismatches) <= 25
    assert {m.element for m in bad.mismatches} == {m.element for m in again.mismatches}
    other = gc.check_grad(y, W, values, max_elements=25, seed=1)
    assert {m.element for m in other.mismatches} != {m.element for m in bad.mismatches}
    with pytest.raises(gc.GraphError, match="max_elements"):
        gc.check_grad(y, W, values, max_elements=0)


@pytest.mark.parametrize("option", [{"eps": "a"}, {"rtol": "a"}, {"atol": -1.0}])
def test_steps_and_tolerances_that_are_not_numbers_are_graph_errors(option):
    w = gc.param("w", (2,))
    with pytest.raises(gc.GraphError, match=f"{next(iter(option))} must be"):
        gc.check_grad(gc.sum(w * w), w, {"w": np.ones(2)}, **option)  # raw errors before


def test_max_elements_true_is_refused_not_a_raw_error():
    w = gc.param("w", (2,))
    with pytest.raises(gc.GraphError, match="max_elements must be a positive int, got True"):
        gc.check_grad(gc.sum(w * w), w, {"w": np.ones(2)}, max_elements=True)
