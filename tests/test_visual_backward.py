"""The backward graph, the combined forward/backward view, provenance, and before/after."""

import os
import re
import types

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.demo import lecture_network
from graphc.diff.reverse import origin
from test_visual_render import SVG, svg_edge_titles, svg_groups, svg_of, texts

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


@pytest.fixture
def lecture():
    loss, _ = lecture_network(n_in=6, n_classes=4, l2=1e-3)
    params = gc.params(loss)
    return loss, params, gc.grad(loss, params)


def test_reverse_mode_records_the_forward_node_each_gradient_node_came_from(lecture):
    loss, params, grads = lecture
    forward = {n.id for n in gc.topological_order(loss)}
    backward = [n for n in gc.topological_order(grads) if n.id not in forward]
    assert backward and all(origin(n) is not None and origin(n).id in forward for n in backward)
    assert all(origin(n) is None for n in gc.topological_order(loss))
    W = next(p for p in params if p.name == "W")
    gW = grads[params.index(W)]
    assert origin(gW) is W  # two parts (data term and L2) meet at W: their sum is W's
    # a vjp rule's nodes belong to the op whose rule made them
    transposes = [n for n in backward if n.op == "transpose"]
    assert [origin(n).op for n in transposes] == ["matmul"]


def test_provenance_leaves_a_second_gradient_of_the_same_graph_its_own():
    x = gc.param("x", (3,))
    y = gc.sum(gc.exp(x))
    first, second = gc.grad(y, x), gc.grad(y, x)
    assert first is not second
    assert origin(first).op == "exp" and origin(second).op == "exp"


def test_the_backward_graph_shows_every_node_with_its_origin_and_the_gradients(lecture):
    loss, params, grads = lecture
    root = svg_of(visual.render_backward(loss, params, grads, raw=True))
    nodes = svg_groups(root, "node")
    order = gc.topological_order(grads)
    assert len(nodes) == len(order)
    assert len(svg_edge_titles(root)) == sum(len(n.inputs) for n in order)
    titles = {texts(nodes[f"n{g.id}"])[0] for g in grads}
    assert titles == {"∂loss/∂W", "∂loss/∂b", "∂loss/∂alpha"}
    forward = {n.id for n in gc.topological_order(loss)}
    for node in order:
        if node.id not in forward and node.op != "const":
            assert f"from {visual.labels.caption(origin(node))}" in texts(nodes[f"n{node.id}"])


def test_render_backward_differentiates_itself_and_shows_values(rng):
    loss, _ = lecture_network(n_in=3, n_classes=2)
    values = gc.init_params(loss) | {"x": rng.normal(size=(4, 3)), "y": rng.integers(0, 2, 4)}
    b = next(p for p in gc.params(loss) if p.name == "b")
    picture = visual.render_backward(loss, b, values=values)
    gb = gc.evaluate(gc.grad(loss, b), values)
    assert f"= μ {gb.mean():.4g} [{gb.min():.4g}, {gb.max():.4g}]" in picture.source
    with pytest.raises(gc.GraphError, match="wrt="):
        visual.render_backward(loss)
    with pytest.raises(gc.GraphError, match="2 gradient nodes for 1 wrt"):
        visual.render_backward(loss, [b], gc.grad(loss, [b, b]))


def test_the_combined_view_ties_each_forward_node_to_its_backward_nodes(lecture):
    loss, params, grads = lecture
    root = svg_of(visual.render_combined(loss, params, grads, raw=True))
    clusters = svg_groups(root, "cluster")
    assert {"cluster_f_side", "cluster_b_side"} <= set(clusters)
    nodes = svg_groups(root, "node")
    forward = gc.topological_order(loss)
    forward_ids = {n.id for n in forward}
    backward = [n for n in gc.topological_order(grads) if n.id not in forward_ids]
    assert set(nodes) == {f"fn{n.id}" for n in forward} | {f"bn{n.id}" for n in backward}
    ties = {t for t in svg_edge_titles(root) if t.startswith("fn") and "->bn" in t}
    tied = {t.split("->")[0] for t in ties}
    assert tied == {f"fn{origin(n).id}" for n in backward}  # every origin, once
    assert len(ties) == len(tied)


def test_before_and_after_a_pass_the_changes_are_marked():
    x = gc.input("x", (None, 3))
    W = gc.param("W", (3, 3))
    before = gc.sum(gc.exp(x @ W) + gc.exp(x @ W) * 1.0)
    e = gc.exp(x @ W)
    after = gc.sum(e + e)
    picture = visual.render_diff(before, after)
    # the rebuilt add and sum differ (their inputs do); the matmul and exp were merged
    assert (
        "before: 10 nodes, after: 6 nodes; 4 removed (red), 2 added (green), "
        "2 merged (orange)" in picture.source
    )
    nodes = svg_groups(svg_of(picture), "node")
    assert len(nodes) == 16
    marks = visual.diff.changes(gc.topological_order(before), gc.topological_order(after))
    assert sorted(
        n.op for n in gc.topological_order(before) if marks["before"].get(n.id) == "removed"
    ) == ["add", "const", "mul", "sum"]
    assert sorted(
        n.op for n in gc.topological_order(after) if marks["after"].get(n.id) == "merged"
    ) == ["exp", "matmul"]


def test_the_same_network_built_twice_shows_no_change():
    first, _ = lecture_network(n_in=3, n_classes=2)
    second, _ = lecture_network(n_in=3, n_classes=2)
    marks = visual.diff.changes(gc.topological_order(first), gc.topological_order(second))
    assert marks == {"before": {}, "after": {}}
    third, _ = lecture_network(n_in=3, n_classes=2, l2=0.5)  # another constant
    marks = visual.diff.changes(gc.topological_order(first), gc.topological_order(third))
    assert sorted(marks["after"].values()) == ["added"] * 3  # const, its mul, the final add


def test_a_step_or_result_of_the_optimizer_draws_as_its_two_sides():
    x = gc.input("x", (None, 3))
    before = gc.sum(gc.exp(x) + gc.exp(x))
    e = gc.exp(x)
    step = types.SimpleNamespace(name="cse", before=[before], after=[gc.sum(e + e)])
    source = visual.render_diff(step).source
    assert "pass cse" in source and "before: 5 nodes, after: 4 nodes" in source
    result = types.SimpleNamespace(original=[before], outputs=[gc.sum(e + e)])
    assert "gc.optimize" in visual.render_diff(result).source
    with pytest.raises(gc.GraphError, match="needs two graphs"):
        visual.render_diff(before)


def test_the_real_optimizer_on_the_lecture_gradients_is_drawn_with_its_counts():
    optimize = gc.optimize
    loss, _ = lecture_network(n_in=4, n_classes=3)
    grads = gc.grad(loss, gc.params(loss))
    result = optimize(grads)
    root = svg_of(visual.render_diff(result))
    n_before, n_after = (len(gc.topological_order(g)) for g in (grads, result.outputs))
    assert len(svg_groups(root, "node")) == n_before + n_after
    caption = " ".join(texts(root.find(f"{SVG}g")))
    assert f"before: {n_before} nodes, after: {n_after} nodes" in caption


def test_the_simplified_combined_view_ties_rebuilt_nodes_to_the_forward_node_they_read():
    loss, _ = lecture_network(n_in=4, n_classes=3)
    params = gc.params(loss)
    source = visual.render_combined(loss, params).source
    ties = [line for line in source.splitlines() if "style=dotted" in line and "->" in line]
    assert len(ties) >= 5
    label = {  # the forward side is the graph after the passes: nodes go by their labels
        line.split()[0]: re.search(r"<B>(.*?)</B>", line).group(1)
        for line in source.splitlines()
        if "<B>" in line
    }
    pairs = {tuple(label[t.strip().split()[0]] for t in line.split("->")) for line in ties}
    assert ("add", "prelu&#x27;(x)") in pairs  # beside prelu's input
    assert ("log_softmax(axis=1)", "softmax - onehot") in pairs


def test_an_unnamed_loss_gives_its_gradients_the_lecture_name_l():
    # after the passes the loss is another op (add of a negation becomes sub): not its label
    x, W = gc.input("x", (None, 3)), gc.param("W", (3, 2))
    loss = -gc.mean(gc.tanh(x @ W)) + 1e-3 * gc.l2(W)
    text = svg_of(visual.render_backward(loss, [W])).itertext()
    assert "∂L/∂W" in set(text)


def test_a_folded_broadcast_of_one_number_shows_the_number():
    # the L2 term's gradient folds 2 * 1e-3 into a W-shaped const: the picture says 0.002
    x, W = gc.input("x", (None, 3)), gc.param("W", (3, 2))
    loss = gc.mean(gc.tanh(x @ W)) + 1e-3 * gc.l2(W)
    assert "0.002 (every entry)" in set(svg_of(visual.render_backward(loss, [W])).itertext())


def test_pictures_with_values_say_their_mode_explain_mu_and_number_every_gradient(rng):
    from graphc.modelfile import load_model

    model = load_model(os.path.join(EXAMPLES, "batchnorm.py"))
    values = gc.init_params(model.loss) | {
        "x": rng.normal(size=(4, 64)),
        "y": np.array([0, 2, 1, 3]),
    }
    wrt = gc.params(model.loss)
    for render in (visual.render_backward, visual.render_combined):
        for training, mode in ((False, "inference mode"), (True, "training mode")):
            source = render(model.loss, wrt, values=values, training=training).source
            assert mode in source and "μ mean [min, max]" in source
    root = svg_of(visual.render_combined(model.loss, wrt, values=values))
    for w, g in zip(wrt, gc.evaluate(gc.grad(model.loss, wrt), values)):
        box = next(
            t for t in map(texts, svg_groups(root, "node").values()) if t[0] == f"∂loss/∂{w.name}"
        )
        assert f"= {visual.labels.summarize(g)}" in box  # every ∂f/∂x shows its number


def test_the_combined_picture_draws_the_forward_side_as_the_forward_picture_does(lecture):
    loss, params, _ = lecture
    forward = svg_groups(svg_of(visual.render(loss)), "node")
    combined = svg_groups(svg_of(visual.render_combined(loss, params)), "node")
    side = {name for name in combined if name.startswith("f")}
    boxes = {name for name in forward if name.startswith("scope")}
    assert {f"f{name}" for name in boxes} <= side  # each loss and layer is one box there too
    assert len(side) <= len(forward) + 2  # at most the passes' rebuilt nodes more
