"""`visual.render`: the forward graph, with values, gradients, scopes and highlighted paths."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import graphc as gc
from graphc import GraphError, Node
from graphc.ir import as_list

from .annotate import magnitude, node_gradients, node_values
from .draw import Drawing, draw
from .labels import summarize
from .output import Picture
from .style import EDGE, GRAPH, HIGHLIGHT_EDGE, NODE, VANISHING, gradient_color, gradient_width

AUTO_EDGE_LABELS = 400  # above this many nodes, shape labels on edges cost more than they tell
VALUE_COLOR = "#1e3a8a"
GRAD_COLOR = "#b91c1c"


def new_picture(title: str | None = None, rankdir: str = "TB") -> Picture:
    """An empty picture with graphc's graph, node and edge style."""
    attrs = dict(GRAPH, rankdir=rankdir)
    if title:
        attrs.update(label=title, labelloc="t", fontsize="14")
    return Picture(graph_attr=attrs, node_attr=NODE, edge_attr=EDGE)


def leaf_kind(node: Node) -> str:
    """The style row of a forward node: its leaf op, or 'op'."""
    return node.op if node.is_leaf else "op"


def forward_drawing(order: list[Node], outputs: list[Node], prefix: str = "") -> Drawing:
    """A drawing of a forward graph: leaves by kind, outputs with a double border."""
    kinds = {n.id: leaf_kind(n) for n in order}
    kinds.update({o.id: "output" for o in outputs if not o.is_leaf})
    return Drawing(order, kinds, prefix=prefix)


def add_numbers(
    drawing: Drawing, values: dict, grads: dict, edge_grads: dict, grad_edges: bool
) -> bool:
    """Put value and gradient summaries on the nodes and, if asked, colour each edge by the
    gradient flowing back along it (its part of the input's gradient when known, else the
    input's whole gradient). Returns whether any edge was coloured."""
    coloured = False
    for node in drawing.order:
        notes = drawing.notes.setdefault(node.id, [])
        if node.id in values and node.op != "const":
            notes.append((f"= {summarize(values[node.id])}", VALUE_COLOR))
        if node.id in grads:
            notes.append((f"∂ {summarize(grads[node.id])}", GRAD_COLOR))
        if not grad_edges:
            continue
        for child in node.inputs:
            flow = edge_grads.get((child.id, node.id), grads.get(child.id))
            if flow is not None and child.op != "const":
                m = magnitude(flow)
                attrs = {
                    "color": gradient_color(m),
                    "penwidth": gradient_width(m),
                    "note": f"|∂| {m:.1e}",
                }
                if m < VANISHING:
                    attrs.update(style="dashed", fontcolor=GRAD_COLOR)
                drawing.edges[(child.id, node.id)] = attrs
                coloured = True
    return coloured


def gradient_legend(graph) -> None:
    """A key for the edge colours: mean |gradient| from vanishing to large."""
    cells = "".join(
        f'<TD BGCOLOR="{gradient_color(10.0**k)}"><FONT COLOR="{ink}">1e{k}</FONT></TD>'
        for k, ink in ((-7, "black"), (-5, "black"), (-3, "white"), (-1, "white"), (1, "white"))
    )
    graph.node(
        "legend",
        shape="plain",
        label=(
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            '<TR><TD COLSPAN="5"><B>mean |∂loss/∂edge|</B> (dashed: vanishing)</TD></TR>'
            f"<TR>{cells}</TR></TABLE>>"
        ),
    )


def resolve(order: list[Node], wanted: Iterable[Node | str], what: str) -> list[Node]:
    """Nodes of the graph given as nodes or names; a clear error for ones not in it."""
    ids = {n.id for n in order}
    by_name = {n.name: n for n in order if n.name}
    found = []
    for item in [wanted] if isinstance(wanted, (Node, str)) else wanted:
        node = by_name.get(item) if isinstance(item, str) else item
        if not isinstance(node, Node) or node.id not in ids:
            raise GraphError(
                f"{what}: {item!r} is not a node of this graph; named nodes: "
                f"{', '.join(sorted(by_name)) or 'none'}"
            )
        found.append(node)
    return found


def mark_paths(drawing: Drawing, sources: list[Node]) -> set[int]:
    """Mark every node and edge on a path from one of `sources` to the outputs."""
    on_path = {s.id for s in sources}
    for node in drawing.order:
        if any(c.id in on_path for c in node.inputs):
            on_path.add(node.id)
    for node in drawing.order:
        if node.id in on_path:
            drawing.marks[node.id] = "highlight"
        for child in node.inputs:
            if child.id in on_path and node.id in on_path:
                drawing.edges.setdefault((child.id, node.id), {}).update(HIGHLIGHT_EDGE)
    return on_path


def collapse_depth(collapse: bool | int) -> int:
    """collapse=True means one box per top-level scope; an int cuts scopes to that depth."""
    if isinstance(collapse, bool) or collapse is None:
        return 1 if collapse else 0
    if not isinstance(collapse, int) or collapse < 0:
        raise GraphError(f"collapse must be True/False or a scope depth >= 1, got {collapse!r}")
    return collapse


def render(
    outputs: Node | Iterable[Node],
    values: Mapping[Any, Any] | None = None,
    grads: Any = None,
    *,
    highlight: Iterable[Node | str] = (),
    clusters: bool = True,
    collapse: bool | int = False,
    edge_labels: bool | None = None,
    grad_edges: bool = True,
    title: str | None = None,
    rankdir: str = "TB",
    training: bool = False,
) -> Picture:
    """Draw the graph of `outputs` (a `graphviz.Digraph`; shows as SVG in Jupyter).

    values      arrays by name or node; when they cover every input and param the whole
                graph is evaluated and each node shows its value (scalar, or mean [min, max])
    grads       arrays or gradient nodes (any mode) by name or node, or True for reverse-mode
                gradients of the scalar output at every node; edges are coloured by the mean
                |gradient| flowing back along them (grad_edges), so vanishing ones stand out
    highlight   nodes (or names) whose every path to the output is drawn in red
    clusters    draw each `gc.scope` as a box around its nodes
    collapse    draw each scope as a single node (True, or a depth for nested scopes)
    edge_labels the shape flowing along each edge (default: on up to 400 nodes)
    """
    outs = as_list(outputs)
    order = gc.topological_order(outs)
    drawing = forward_drawing(order, outs)
    numbers = (
        node_values(order, values, training),
        *node_gradients(order, outs, grads, values, training),
    )
    coloured = add_numbers(drawing, *numbers, grad_edges)
    if highlight:
        mark_paths(drawing, resolve(order, highlight, "highlight"))
    picture = new_picture(title, rankdir)
    if edge_labels is None:
        edge_labels = len(order) <= AUTO_EDGE_LABELS
    draw(
        picture,
        drawing,
        clusters=clusters,
        collapse=collapse_depth(collapse),
        edge_labels=edge_labels,
    )
    if coloured:
        gradient_legend(picture)
    return picture
