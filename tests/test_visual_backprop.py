"""The gate view on the lecture's network at blackboard size: every number the picture shows
(read back from the SVG the real `dot` made) equals what `gc.grad` computes."""

import re

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.demo import lecture_network
from graphc.ops.composite import COMPOSITE_SCOPES, composite
from graphc.ops.registry import FLOAT_DTYPES, REGISTRY
from test_registry import MODE_OPS, OPS, sample_nodes
from test_visual_render import SVG, svg_groups, svg_of, texts
from visual.gates import gate_numbers, op_rule

XLINK = "{http://www.w3.org/1999/xlink}title"


@pytest.fixture
def blackboard():
    """4 inputs, 3 classes, a batch of 2."""
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=1e-3)
    rng = np.random.default_rng(1)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 4)), "y": np.array([0, 2])}
    return loss, values


def tooltips(group) -> dict[str, np.ndarray]:
    """The arrays a node's or edge's tooltip lists: 'what = [numbers]; ...'."""
    found = {}
    for a in group.iter(f"{SVG}a"):
        for part in (a.get(XLINK) or "").split("; "):
            if " = " in part:
                what, numbers = part.rsplit(" = ", 1)
                found[what] = np.array(
                    [float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", numbers)]
                )
    return found


def grad_of(loss, node, values):
    return np.ravel(gc.evaluate(gc.grad(loss, node), values))


def test_every_number_of_the_gate_view_is_reverse_modes(blackboard):
    loss, values = blackboard
    root = svg_of(visual.render_backprop(loss, values, expand=True))
    nodes, edges = svg_groups(root, "node"), svg_groups(root, "edge")
    order = gc.topological_order(loss)
    checked = 0
    for node in order:
        if node.op in ("const", "one_hot", "axis_size") or node.dtype != "float64":
            assert not any("∂" in key for key in tooltips(nodes[f"n{node.id}"]))
            continue
        tips = tooltips(nodes[f"n{node.id}"])
        what = f"∂L/∂{node.name}" if node.is_leaf else "↑ upstream ∂L/∂out"
        np.testing.assert_allclose(tips[what], grad_of(loss, node, values), rtol=1e-5, atol=1e-9)
        value = np.ravel(gc.evaluate(node, values))
        np.testing.assert_allclose(tips["value"], value, rtol=1e-5, atol=1e-9)
        checked += 1
    assert checked >= 15
    # downstream on each wire: the input's share, and the shares sum to the input's gradient
    W = next(p for p in gc.params(loss) if p.name == "W")
    shares = [
        tooltips(g)["downstream ∂L/∂W"]
        for name, g in edges.items()
        if name.startswith(f"n{W.id}->")
    ]
    assert len(shares) == 2
    np.testing.assert_allclose(sum(shares), grad_of(loss, W, values), rtol=1e-5, atol=1e-9)


def test_a_gate_shows_upstream_times_local_equals_downstream(blackboard):
    loss, values = blackboard
    order = gc.topological_order(loss)
    prelu = next(n for n in order if n.op == "prelu")
    z, alpha = prelu.inputs
    root = svg_of(visual.render_backprop(loss, values))
    lines = texts(svg_groups(root, "node")[f"n{prelu.id}"])
    assert any(line.startswith("∂/∂add: prelu'(add) = 1 if add > 0 else alpha") for line in lines)
    tips = tooltips(svg_groups(root, "node")[f"n{prelu.id}"])
    local = np.where(gc.evaluate(z, values) > 0, 1.0, gc.evaluate(alpha, values))
    np.testing.assert_allclose(tips["local ∂out/∂add"], np.ravel(local), rtol=1e-5)
    edge = svg_groups(root, "edge")[f"n{z.id}->n{prelu.id}"]
    downstream = tooltips(edge)["downstream ∂L/∂add"]
    np.testing.assert_allclose(downstream, tips["↑ upstream ∂L/∂out"] * np.ravel(local), rtol=1e-5)
    np.testing.assert_allclose(downstream, grad_of(loss, z, values), rtol=1e-5, atol=1e-12)


def test_the_loss_box_shows_p_minus_y_and_scalars_show_numbers(blackboard):
    loss, values = blackboard
    root = svg_of(visual.render_backprop(loss, values))
    shown = {name: texts(g) for name, g in svg_groups(root, "node").items()}
    box = next(lines for lines in shown.values() if lines[0] == "softmax cross-entropy")
    # the rule names the loss's real input (logits), not the lecture's z
    assert "p = softmax(logits), N = rows in the batch" in box
    assert "∂/∂logits = (p − y) / N, y as one-hot rows" in box
    assert "↑ upstream ∂L/∂out = 1" in box
    y = next(n for n in gc.topological_order(loss) if n.name == "y")
    assert not any("∂" in line for line in shown[f"n{y.id}"])  # integer labels: no gradient


def test_a_constant_factor_is_written_once(blackboard):
    loss, values = blackboard
    scaled = next(n for n in gc.topological_order(loss) if n.op == "mul" and n.shape == ())
    lines = texts(svg_groups(svg_of(visual.render_backprop(loss, values)), "node")[f"n{scaled.id}"])
    assert "∂/∂L2 penalty: 0.001" in lines  # the factor itself, not "0.001 = 0.001"


def test_the_gate_view_needs_values(blackboard):
    loss, _ = blackboard
    with pytest.raises(gc.GraphError, match="give values= with every input and param"):
        visual.render_backprop(loss)


def test_in_training_mode_batch_norms_gate_numbers_are_the_training_gradients():
    x = gc.input("x", (None, 3))
    t = gc.input("t", (None,), "int64")
    W = gc.param("W", (3, 3), init="he_normal")
    gamma, beta = gc.param("g", (3,), init=1.0), gc.param("be", (3,))
    hidden = gc.relu(gc.batch_norm(x @ W, gamma, beta, name="bn"))
    loss = gc.named(gc.softmax_cross_entropy(hidden, t), "loss")
    rng = np.random.default_rng(2)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 3)), "t": np.array([0, 2])}
    root = svg_of(visual.render_backprop(loss, values, training=True))
    nodes = svg_groups(root, "node")
    assert "training mode" in " ".join(texts(root.find(f"{SVG}g")))
    box = next(lines for lines in map(texts, nodes.values()) if lines[0] == "batch norm")
    assert "∂/∂g = Σ δ·x̂, ∂/∂be = Σ δ (Σ over the batch, δ = upstream)" in " ".join(box)
    assert any("batch mean" in line for line in box)
    for p in (W, gamma, beta):
        shown = tooltips(nodes[f"n{p.id}"])[f"∂L/∂{p.name}"]
        want = np.ravel(gc.evaluate(gc.grad(loss, p), values, training=True))
        np.testing.assert_allclose(shown, want, rtol=1e-5, atol=1e-9)
        infer = np.ravel(gc.evaluate(gc.grad(loss, p), values, training=False))
        assert not np.allclose(want, infer)  # the two modes really differ here


def test_a_composite_shows_the_label_and_board_it_was_defined_with():
    """`@composite(label=..., board=...)` is all a new loss needs for its box; a bare
    `@composite` box is titled by its name."""

    @composite(label="squared distance", board=("∂/∂a = 2 (a − b)",))
    def squared_distance(a, b):
        return gc.sum((a - b) * (a - b))

    @composite
    def half_sum(a):
        return 0.5 * gc.sum(a)

    try:
        x, t = gc.input("x", (2,)), gc.input("t", (2,))
        loss = squared_distance(x, t) + half_sum(x)
        values = {"x": np.array([1.0, 2.0]), "t": np.array([0.0, 4.0])}
        nodes = svg_groups(svg_of(visual.render_backprop(loss, values)), "node")
        shown = [texts(g) for g in nodes.values()]
        box = next(lines for lines in shown if lines[0] == "squared distance")
        assert "∂/∂a = 2 (a − b)" in box
        assert any(lines[0] == "half sum" for lines in shown)
        titles = [g.title for g in gate_numbers(loss, values).gates if g.composite]
        assert titles == ["squared distance", "half sum"]  # the side panel's names
    finally:
        del COMPOSITE_SCOPES["squared_distance"], COMPOSITE_SCOPES["half_sum"]


@pytest.mark.parametrize(
    "name", [n for n in sorted(set(OPS) - MODE_OPS) if not REGISTRY[n].nondiff]
)
def test_every_ops_gate_writes_its_board_rule(name, rng):
    """Each op's gate, drawn by the real `dot` and read back from the SVG, writes its own
    `board` text with the input's name filled in (or names its vjp rule when it has none) for
    each input a gradient flows to."""
    node, feed = next(sample_nodes(name, rng))
    if node.dtype not in FLOAT_DTYPES:
        pytest.skip(f"{name}'s first sample has no float result to differentiate")
    loss = gc.sum(node) if node.ndim else node
    nodes = svg_groups(svg_of(visual.render_backprop(loss, feed)), "node")
    lines = [line for group in nodes.values() for line in texts(group)]
    names = [i.name for i in node.inputs]
    vjp = REGISTRY[name].vjp
    written = [
        f"∂/∂{child.name}: {rule}"
        for k, (child, rule) in enumerate(zip(node.inputs, op_rule(name, names)))
        if rule and child.dtype in FLOAT_DTYPES and vjp[k] is not None  # a gradient flows
    ]
    assert written, f"{name} has no rule to write"
    drawn = " ".join(lines)  # a long line is wrapped after a clause
    for text in written:  # the picture holds a rule's first line (the page has the rest)
        assert text.split("\n")[0] in drawn, (text, lines)


def test_a_long_note_is_wrapped_after_a_clause_and_never_inside_an_array():
    from visual.backprop import NOTE_WIDTH, wrap

    up = wrap("↑ upstream ∂L/∂out = μ 0.008309 [-0.2633, 0.2964]")
    assert up.split("\n") == ["↑ upstream ∂L/∂out", "= μ 0.008309 [-0.2633, 0.2964]"]
    rule = "x̂ = (@₁ − running mean) / σ, σ = √(running variance + ε)"
    assert wrap(rule).split("\n") == ["x̂ = (@₁ − running mean) / σ,", "σ = √(running variance + ε)"]
    assert wrap("short = 1") == "short = 1"
    unbreakable = "∂/∂x: " + "y" * 2 * NOTE_WIDTH  # a long name: one long line, not cut
    assert wrap(unbreakable) == unbreakable
