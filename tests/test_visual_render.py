"""visual.render: the lecture's network drawn by the real `dot`, read back from the SVG."""

import importlib.util
import pathlib
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc
import visual
from graphc.demo import lecture_network
from visual.labels import caption, shape_dtype
from visual.output import pipe

SVG = "{http://www.w3.org/2000/svg}"
_BENCH = pathlib.Path(__file__).parents[1] / "benchmarks" / "render_large.py"
_spec = importlib.util.spec_from_file_location("render_large", _BENCH)
render_large = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_large)
scoped_network = render_large.scoped_network  # the benchmark's network, ~11 nodes per block


def svg_of(picture) -> ET.Element:
    """The SVG the real `dot` program makes of a picture, parsed."""
    return ET.fromstring(pipe(picture, "svg"))


def svg_groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """The <g class=kind> groups (node, edge, cluster) by their <title> (the DOT name)."""
    return {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == kind}


def svg_edge_titles(root: ET.Element) -> list[str]:
    """The titles ('a->b') of every drawn edge; parallel edges (x * x) appear twice."""
    return [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]


def texts(group: ET.Element) -> list[str]:
    """The text lines drawn in one SVG group, top to bottom."""
    return [t.text for t in group.iter(f"{SVG}text") if t.text]


def strokes(group: ET.Element) -> set[str]:
    """The stroke colours of a node's or edge's outline shapes."""
    return {
        e.get("stroke")
        for e in group.iter()
        if e.tag in (f"{SVG}ellipse", f"{SVG}polygon", f"{SVG}path")
    } - {None}


@pytest.fixture
def lecture(rng):
    loss, logits = lecture_network(n_in=6, n_classes=4, l2=1e-3)
    values = gc.init_params(loss) | {"x": rng.normal(size=(5, 6)), "y": rng.integers(0, 4, 5)}
    return loss, logits, values


def test_every_node_shows_its_label_and_shape_and_every_edge_is_drawn(lecture):
    loss, logits, _ = lecture
    order = gc.topological_order(loss)
    root = svg_of(visual.render(loss, expand=True))
    nodes, edges = svg_groups(root, "node"), svg_groups(root, "edge")
    assert len(nodes) == len(order)
    assert len(svg_edge_titles(root)) == sum(len(n.inputs) for n in order)
    for node in order:
        lines = texts(nodes[f"n{node.id}"])
        assert lines[0] == caption(node)
        if node.op != "const":
            assert any(shape_dtype(node) in line for line in lines), lines
    # a user-given name wins; the op's label stays visible below it
    assert texts(nodes[f"n{logits.id}"]) == ["logits", "prelu", "N×4"]
    assert texts(nodes[f"n{loss.id}"]) == ["loss", "add", "scalar"]
    # the edges carry the shape flowing along them
    W = next(n for n in order if n.name == "W")
    matmul = next(n for n in order if n.op == "matmul")
    assert "6×4" in texts(edges[f"n{W.id}->n{matmul.id}"])


def test_styles_tell_inputs_params_consts_and_ops_apart(lecture):
    loss, _, _ = lecture
    order = gc.topological_order(loss)
    nodes = svg_groups(svg_of(visual.render(loss, expand=True)), "node")
    outline = {kind: set() for kind in ("input", "param", "const", "op")}
    for node in order:
        kind = node.op if node.is_leaf else "op"
        if node is not loss:
            outline[kind].add(frozenset(strokes(nodes[f"n{node.id}"])))
    assert all(len(styles) == 1 for styles in outline.values()), outline
    assert len({next(iter(s)) for s in outline.values()}) == 4  # four distinct looks


def test_values_and_gradients_are_summarized_and_colour_the_edges(lecture):
    loss, logits, values = lecture
    root = svg_of(visual.render(loss, values, grads=True))
    nodes = svg_groups(root, "node")
    loss_value = gc.evaluate(loss, values)
    assert f"= {loss_value:.4g}" in texts(nodes[f"n{loss.id}"])
    logit_values = gc.evaluate(logits, values)
    assert (
        f"= μ {logit_values.mean():.4g} [{logit_values.min():.4g}, "
        f"{logit_values.max():.4g}]" in texts(nodes[f"n{logits.id}"])
    )
    W = next(p for p in gc.params(loss) if p.name == "W")
    g = gc.evaluate(gc.grad(loss, W), values)
    assert f"∂ μ {g.mean():.4g} [{g.min():.4g}, {g.max():.4g}]" in texts(nodes[f"n{W.id}"])
    assert "legend" in nodes
    edge_colours = {c for e in svg_groups(root, "edge").values() for c in strokes(e)}
    assert len(edge_colours) > 3  # magnitudes differ along the graph


def test_gradient_nodes_from_any_mode_and_arrays_by_name_are_accepted(lecture):
    loss, _, values = lecture
    W = next(p for p in gc.params(loss) if p.name == "W")
    g = gc.evaluate(gc.grad(loss, W), values)
    by_node = svg_groups(svg_of(visual.render(loss, values, {W: gc.grad(loss, W)})), "node")
    by_name = svg_groups(svg_of(visual.render(loss, grads={"W": g})), "node")
    line = f"∂ μ {g.mean():.4g} [{g.min():.4g}, {g.max():.4g}]"
    assert line in texts(by_node[f"n{W.id}"]) and line in texts(by_name[f"n{W.id}"])


def test_forward_mode_gradients_show_like_reverse_mode_ones(lecture):
    loss, _, values = lecture
    b = next(p for p in gc.params(loss) if p.name == "b")
    reverse = visual.render(loss, values, {b: gc.grad(loss, b)}).source
    forward = visual.render(loss, values, {b: gc.grad(loss, b, mode="forward")}).source
    g = gc.evaluate(gc.grad(loss, b), values)
    line = f"∂ μ {g.mean():.4g} [{g.min():.4g}, {g.max():.4g}]"
    assert line in reverse and line in forward


def test_values_show_given_arrays_or_evaluate_everything_but_not_half(lecture):
    loss, logits, values = lecture
    logit_values, loss_value = gc.evaluate([logits, loss], values)
    shown = visual.render(loss, {"logits": logit_values, loss: loss_value}).source
    assert f"= {loss_value:.4g}" in shown and f"= μ {logit_values.mean():.4g}" in shown
    assert shown.count("= ") == 3  # and the legend's "= value"
    with pytest.raises(gc.MissingValueError, match="but not W, b, alpha: give them all"):
        visual.render(loss, {"x": values["x"], "y": values["y"]})


def test_a_vanishing_gradient_is_drawn_dashed():
    x = gc.param("x", (3,), init=40.0)
    s = gc.sigmoid(x)
    y = gc.sum(s + 0.5 * x)
    source = visual.render(y, {"x": np.full(3, 40.0)}, grads=True).source
    edge = {line.split("[")[0].strip(): line for line in source.splitlines() if "->" in line}
    # nothing flows back from the saturated sigmoid(40) to x, while the linear branch gives 0.5
    assert "style=dashed" in edge[f"n{x.id} -> n{s.id}"]
    assert float(edge[f"n{x.id} -> n{s.id}"].split("|∂| ")[1].split('"')[0]) < 1e-7
    linear = next(k for k in edge if k.startswith(f"n{x.id} -> ") and k != f"n{x.id} -> n{s.id}")
    assert "|∂| 5.0e-01" in edge[linear] and "dashed" not in edge[linear]


def test_highlight_marks_every_path_from_a_node_to_the_output(lecture):
    loss, _, _ = lecture
    order = gc.topological_order(loss)
    alpha = next(p for p in gc.params(loss) if p.name == "alpha")
    root = svg_of(visual.render(loss, highlight=["alpha"], expand=True))
    nodes, edges = svg_groups(root, "node"), svg_groups(root, "edge")
    on_path = {alpha.id}
    for node in order:
        if any(c.id in on_path for c in node.inputs):
            on_path.add(node.id)
    marked = {int(name[1:]) for name, g in nodes.items() if "#db2777" in strokes(g)}
    assert marked == on_path and loss.id in marked and len(marked) < len(order)
    marked_edges = [name for name, g in edges.items() if "#db2777" in strokes(g)]
    assert len(marked_edges) == sum(
        1 for n in order for c in n.inputs if c.id in on_path and n.id in on_path
    )


def test_a_shared_subexpression_is_drawn_once():
    x = gc.input("x", (None, 3))
    e = gc.exp(x)
    y = gc.sum(e * e + e)
    root = svg_of(visual.render(y))
    nodes = svg_groups(root, "node")
    assert [texts(g)[0] for g in nodes.values()].count("exp") == 1
    assert sum(t.startswith(f"n{e.id}->") for t in svg_edge_titles(root)) == 3  # e*e, + e


def test_scopes_become_nested_clusters():
    loss = scoped_network(3)
    root = svg_of(visual.render(loss))
    clusters = svg_groups(root, "cluster")
    assert set(clusters) == {f"cluster_block{i}" for i in range(3)} | {
        f"cluster_block{i}/act" for i in range(3)
    } | {"cluster_loss"}
    assert texts(clusters["cluster_block1/act"])[0] == "act"
    assert len(svg_groups(root, "node")) == len(gc.topological_order(loss))


def test_the_collapsed_view_of_a_2000_node_network_draws_one_box_per_scope():
    loss = scoped_network(182)
    order = gc.topological_order(loss)
    assert len(order) >= 2000
    root = svg_of(visual.render(loss, collapse=True))
    nodes, edges = svg_groups(root, "node"), svg_groups(root, "edge")
    assert len(nodes) == 182 + 2  # the blocks, the loss scope and the input x
    members = [n for n in order if n.scope and n.scope.split("/")[0] == "block0"]
    assert texts(nodes["scope0"])[:2] == [
        "block0",
        f"{sum(not n.is_leaf for n in members)} ops, {len(members)} nodes",
    ]
    # x feeds block0 twice (matmul and the residual add): one edge; then a chain of blocks
    assert len(edges) == 1 + 181 + 1


def test_bad_requests_fail_with_a_graph_error(lecture):
    loss, _, values = lecture
    with pytest.raises(gc.GraphError, match="'nope' is not a node of this graph"):
        visual.render(loss, highlight=["nope"])
    with pytest.raises(gc.GraphError, match="grads=True evaluates the gradients"):
        visual.render(loss, grads=True)
    with pytest.raises(gc.GraphError, match="keyed by graph nodes or names"):
        visual.render(loss, {3: np.ones(3)})
    with pytest.raises(gc.GraphError, match="scope depth"):
        visual.render(loss, collapse=-1)
    with pytest.raises(gc.GraphError, match="expected a graph node"):
        visual.render("loss")


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "mul", "tanh", "exp"]),
            st.integers(0, 10**6),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_any_random_dag_is_drawn_with_one_node_per_node_and_one_edge_per_input(steps):
    pool = [gc.input("x", (None, 3)), gc.param("w", (3,))]
    for op, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(getattr(gc, op)(a) if op in ("tanh", "exp") else getattr(a, f"__{op}__")(b))
    out = gc.sum(pool[-1])
    order = gc.topological_order(out)
    root = svg_of(visual.render(out))
    assert len(svg_groups(root, "node")) == len(order)
    assert len(svg_edge_titles(root)) == sum(len(n.inputs) for n in order)


@pytest.mark.parametrize("name", ["a\fb", "x\x00y", "bell\a", "end\\"])
def test_names_with_control_characters_or_backslashes_still_draw(name, tmp_path):
    x, w = gc.input(name, (None, 2)), gc.param(f"w{name}", (2,))
    loss = gc.sum(x * w)
    values = {name: np.ones((1, 2)), f"w{name}": np.ones(2)}
    for picture in (
        visual.render(loss, values=values, grads=True),
        visual.render_backward(loss, [w]),
    ):
        assert visual.save(picture, tmp_path / "g.svg")
        assert "?" in (tmp_path / "g.svg").read_text() or "\\" in name
