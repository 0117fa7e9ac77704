"""Local rules derived by SymPy beside the registered vjp rules, and saturation reports."""

import dataclasses
import json

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.diff.teaching import COMPOSITES
from graphc.ops.registry import REGISTRY


def sym(name):
    return sp.Symbol(name, real=True)


def test_softmax_cross_entropy_gradient_is_p_minus_y():
    rule = gc.local_rule("softmax_cross_entropy")
    want = sp.ImmutableMatrix([[sym(f"p_{j}") - sym(f"y_{j}") for j in range(3)]])
    assert rule.kind == "composite" and rule.rules["z"] == want
    assert "p_0 = exp(z_0)/(exp(z_0) + exp(z_1) + exp(z_2))" in str(rule)
    assert rule.max_error < 1e-12  # p - y, evaluated, is what reverse mode computes
    latex = rule._repr_latex_()
    assert latex.startswith("$\\begin{aligned}") and "p_{0} - y_{0}" in latex


def test_binary_cross_entropy_gradient_is_s_minus_t():
    rule = gc.local_rule("binary_cross_entropy_with_logits")
    assert rule.rules["z"] == sym("s_0") - sym("t_0") and rule.max_error < 1e-12


@pytest.mark.parametrize(
    "op, in_terms_of_y",
    [("tanh", "1 - y**2"), ("sigmoid", "y*(1 - y)"), ("exp", "y"), ("sqrt", "1/(2*y)")],
)
def test_activation_rules_read_as_backprop_stores_them(op, in_terms_of_y):
    rule = gc.local_rule(op)
    assert rule.kind == "elementwise" and set(rule.rules) == {"x"}
    y = sym("y")
    assert (
        sp.simplify(rule.in_terms_of_output["x"] - sp.sympify(in_terms_of_y, locals={"y": y})) == 0
    )
    assert "(y = the output)" in str(rule)


DIFFERENTIABLE = sorted(
    name
    for name, op in REGISTRY.items()
    if not op.leaf and not op.nondiff and name != "select_mode"
)


@pytest.mark.parametrize("name", DIFFERENTIABLE + sorted(COMPOSITES))
def test_every_registered_vjp_matches_the_rule_sympy_derives(name):
    rule = gc.local_rule(name)
    assert rule.rules and rule.numeric.keys() == rule.symbolic.keys() == rule.rules.keys()
    assert rule.max_error < 1e-12, str(rule)
    json.dumps(rule.to_dict())


def test_tensor_ops_show_one_element_of_their_vjp():
    rule = gc.local_rule("matmul")
    assert rule.kind == "tensor"
    a, b, g = sym("a_0_0"), sym("b_0_0"), sym("g_0_0")
    assert rule.rules["a"] == b * g + sym("b_0_1") * sym("g_0_1")
    assert rule.rules["b"] == sum(sym(f"a_{i}_0") * sym(f"g_{i}_0") for i in range(3))
    assert a in rule.rules["b"].free_symbols


def test_a_wrong_rule_shows_up_as_a_gap(monkeypatch):
    tanh = REGISTRY["tanh"]
    monkeypatch.setitem(
        REGISTRY, "tanh", dataclasses.replace(tanh, vjp=(lambda g, n: g * (1.0 - n),))
    )
    assert gc.local_rule("tanh").max_error > 0.1


def test_ops_without_a_rule():
    assert gc.local_rule("greater").kind == "nondiff"
    assert "not differentiable" in str(gc.local_rule("one_hot"))
    with pytest.raises(gc.GraphError, match="unknown op 'softmaxx'.*composites"):
        gc.local_rule("softmaxx")
    with pytest.raises(gc.GraphError, match="select_mode"):
        gc.local_rule("select_mode")


def saturating_network(rng):
    x = gc.input("x", (None, 4))
    W1, W2 = gc.param("W1", (4, 6)), gc.param("W2", (6, 3))
    alpha = gc.param("alpha", (3,), init=0.25)
    h = gc.named(gc.sigmoid(x @ W1), "h")
    r = gc.named(gc.relu(h @ W2 + gc.const([-100.0, 0.0, 100.0])), "r")
    t = gc.named(gc.tanh(0.001 * (x @ W1)), "t")
    p = gc.named(gc.prelu(x @ W1[..., 0] * 0.0 - 1.0, 0.25), "p")
    loss = gc.sum(r) + gc.sum(t) + gc.sum(p)
    values = {
        "x": rng.normal(size=(32, 4)),
        "W1": 50.0 * rng.normal(size=(4, 6)),
        "W2": rng.normal(size=(6, 3)),
        "alpha": np.full(3, 0.25),
    }
    return loss, values, alpha


def test_saturation_finds_saturated_sigmoids_and_dead_relus(rng):
    loss, values, _ = saturating_network(rng)
    report = gc.saturation(loss, values)
    assert [layer.node for layer in report.layers] == ["h", "r", "t", "p"]
    assert report["h"].saturated > 0.8  # |x W1| is huge: sigmoid is flat almost everywhere
    assert report["r"].dead_units == pytest.approx(1 / 3)  # the unit with bias -100 is dead
    assert 1 / 3 <= report["r"].saturated <= 2 / 3  # the unit with bias +100 is always on
    assert report["t"].saturated == 0 and report["t"].mean_derivative > 0.99
    assert report["p"].saturated == 0 and report["p"].mean_derivative == pytest.approx(0.25)
    assert gc.saturation(loss, values, threshold=0.5)["p"].dead_units == 1.0
    text = str(report)
    assert text.splitlines()[0] == "saturation: local derivative below 0.01"
    assert "sigmoid" in text and "33.3%" in text
    assert json.loads(json.dumps(report.to_dict()))["layers"][1]["op"] == "relu"
    assert report._repr_html_().count("<tr>") == 5
    with pytest.raises(KeyError, match="no activation 'z'"):
        report["z"]


def test_saturation_options_and_errors(rng):
    loss, values, _ = saturating_network(rng)
    only_tanh = gc.saturation(loss, values, ops=("tanh",))
    assert [layer.op for layer in only_tanh.layers] == ["tanh"]
    assert gc.saturation(gc.sum(gc.param("w", (2,))), {"w": np.ones(2)}).layers == []
    with pytest.raises(gc.GraphError, match="threshold"):
        gc.saturation(loss, values, threshold=0)


def test_saturation_refuses_a_threshold_that_is_not_a_number(rng):
    loss, values, _ = saturating_network(rng)
    with pytest.raises(gc.GraphError, match="threshold must be a positive number, got 'a'"):
        gc.saturation(loss, values, threshold="a")  # was a raw TypeError from "a" > 0
