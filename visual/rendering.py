"""`visual.render`: the forward graph, with values, gradients, scopes and highlighted paths."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import graphc as gc
from graphc import GraphError, Node
from graphc.ir import as_list
from graphc.ops.composite import COMPOSITE_SCOPES
from graphc.passes.specialization import switch_branch

from .annotate import gradient_flow, magnitude, node_gradients, node_values
from .draw import Drawing, draw
from .labels import denoise, noise_floor, summarize
from .mode import live_order, mode_title, resolve_mode
from .output import Picture
from .style import EDGE, GRAPH, HIGHLIGHT_EDGE, NODE, VANISHING, gradient_color, gradient_width

AUTO_EDGE_LABELS = 400  # above this many nodes, shape labels on edges cost more than they tell
PIXELS_PER_INCH = 96  # what browsers and dot's PNGs use
VALUE_COLOR = "#1e3a8a"
GRAD_COLOR = "#b91c1c"


MAX_WIDTH = 900  # px: a notebook column; dot scales a wider picture down to fit


def new_picture(
    title: str | None = None, rankdir: str = "TB", max_width: int | None = MAX_WIDTH
) -> Picture:
    """An empty picture with graphc's graph, node and edge style, at most `max_width` pixels
    wide (None: natural size)."""
    attrs = dict(GRAPH, rankdir=rankdir)
    if title:
        attrs.update(label=title, labelloc="t", fontsize="14")
    if max_width is not None:
        if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 100:
            raise GraphError(f"max_width must be a number of pixels >= 100, got {max_width!r}")
        attrs["size"] = f"{max_width / PIXELS_PER_INCH:.3f},1000"  # dot shrinks, never grows
    return Picture(graph_attr=attrs, node_attr=NODE, edge_attr=EDGE)


def leaf_kind(node: Node) -> str:
    """The style row of a forward node: its leaf op, or 'op'."""
    return node.op if node.is_leaf else "op"


def forward_drawing(
    order: list[Node], outputs: list[Node], prefix: str = "", training: bool | None = None
) -> Drawing:
    """A drawing of a forward graph in a mode: leaves by kind, outputs with a double border."""
    kinds = {n.id: leaf_kind(n) for n in order}
    kinds.update({o.id: "output" for o in outputs if not o.is_leaf})
    return Drawing(order, kinds, prefix=prefix, training=training)


def add_numbers(
    drawing: Drawing,
    values: dict,
    grads: dict,
    edge_grads: dict,
    grad_edges: bool,
    flow: set[int] | None = None,
) -> bool:
    """Put value and gradient summaries on the nodes and, if asked, colour each edge by the
    gradient flowing back along it (its part of the input's gradient when known, else the
    input's whole gradient). Only nodes in `flow` (default: all) get a ∂; numbers below the
    rounding noise of the largest gradient show as 0. Returns whether any edge was coloured."""
    flow = set(grads) if flow is None else flow
    grads = {k: g for k, g in grads.items() if k in flow}
    edge_grads = {k: g for k, g in edge_grads.items() if k[0] in flow and k[1] in flow}
    floor = max((noise_floor(g) for g in grads.values()), default=0.0)
    coloured = False
    for node in drawing.order:
        notes = drawing.notes.setdefault(node.id, [])
        if node.id in values and node.op != "const":
            notes.append((f"= {summarize(values[node.id])}", VALUE_COLOR))
        if node.id in grads:
            notes.append((f"∂ {summarize(grads[node.id], floor)}", GRAD_COLOR))
        if not grad_edges:
            continue
        for child in node.inputs:
            flows = edge_grads.get((child.id, node.id), grads.get(child.id))
            if flows is not None and node.id in flow:
                m = magnitude(denoise(flows, floor))
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


def legend(graph, values: bool, grads: bool, edges: bool) -> None:
    """A key for what the numbers and colours mean: = value, ∂ gradient, and the edge
    colours from vanishing to large mean |gradient|."""
    rows = []
    if values:
        rows.append(
            f'<TR><TD COLSPAN="5" ALIGN="LEFT"><FONT COLOR="{VALUE_COLOR}">= value: the '
            "number, or μ mean [min, max]</FONT></TD></TR>"
        )
    if grads:
        rows.append(
            f'<TR><TD COLSPAN="5" ALIGN="LEFT"><FONT COLOR="{GRAD_COLOR}">∂ gradient of the '
            "loss with respect to the node</FONT></TD></TR>"
        )
    if edges:
        cells = "".join(
            f'<TD BGCOLOR="{gradient_color(10.0**k)}"><FONT COLOR="{ink}">1e{k}</FONT></TD>'
            for k, ink in ((-7, "black"), (-5, "black"), (-3, "white"), (-1, "white"), (1, "white"))
        )
        rows.append(
            '<TR><TD COLSPAN="5">edge colour: mean |∂loss/∂edge| (dashed: vanishing)</TD></TR>'
            f"<TR>{cells}</TR>"
        )
    if rows:
        graph.node(
            "legend",
            shape="plain",
            fontsize="9",
            label='<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2">'
            + "".join(rows)
            + "</TABLE>>",
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


def check_values(values: Any, where: str) -> None:
    """Refuse a second positional argument that is not values (graph first, values=...)."""
    if values is not None and not isinstance(values, Mapping):
        raise GraphError(
            f"{where} takes the graph first, then values= (a dict of arrays by name or node), "
            f"grads=, wrt= and training= by keyword; got {type(values).__name__} for values"
        )


def expand_set(expand: bool | str | Iterable[str]) -> bool | frozenset:
    """expand=True opens every composite; a name or names open those; False opens none."""
    if isinstance(expand, bool):
        return expand
    names = frozenset([expand] if isinstance(expand, str) else expand)
    unknown = names - COMPOSITE_SCOPES.keys()
    if unknown:
        raise GraphError(
            f"expand: {', '.join(sorted(unknown))} is not a composite; composites: "
            f"{', '.join(sorted(COMPOSITE_SCOPES))}"
        )
    return names


def render(
    outputs: Node | Iterable[Node],
    values: Mapping[Any, Any] | None = None,
    grads: Any = None,
    *,
    highlight: Iterable[Node | str] = (),
    clusters: bool = True,
    collapse: bool | int = False,
    expand: bool | str | Iterable[str] = False,
    edge_labels: bool | None = None,
    grad_edges: bool = True,
    title: str | None = None,
    rankdir: str = "TB",
    training: bool | None = None,
    max_width: int | None = MAX_WIDTH,
) -> Picture:
    """Draw the graph of `outputs` (a `graphviz.Digraph`; shows as SVG in Jupyter).

    values      arrays by name or node; when they cover every input and param the whole
                graph is evaluated and each node shows its value (scalar, or mean [min, max])
    grads       arrays or gradient nodes (any mode) by name or node, or True for reverse-mode
                gradients of the scalar output at every node; edges are coloured by the mean
                |gradient| flowing back along them (grad_edges), so vanishing ones stand out
    training    which branch to draw and evaluate: True (batch statistics, dropout mask),
                False (running statistics, identity); default: inference when values are
                given, else both branches
    highlight   nodes (or names) whose every path to the output is drawn in red
    clusters    draw each `gc.scope` as a box around its nodes
    collapse    draw each scope as a single node (True, or a depth for nested scopes)
    expand      losses and layers are one box each; True draws all their ops, or name the
                ones to open: expand=["batch_norm"]
    edge_labels the shape flowing along each edge (default: on up to 400 nodes)
    max_width   the widest the picture may be, in pixels (None: natural size)
    """
    check_values(values, "render")
    outs = as_list(outputs)
    mode = resolve_mode(training, values)
    order = live_order(gc.topological_order(outs), outs, mode)
    drawing = forward_drawing(order, outs, training=mode)
    for node in order:  # the mode's choice, named as a student reads it
        if mode is not None and not node.name and switch_branch(node, mode) is not None:
            drawing.titles[node.id] = "training branch" if mode else "inference branch"
    known = node_values(order, values, bool(mode))
    grad_arrays, edge_arrays = node_gradients(order, outs, grads, values, bool(mode))
    flow = gradient_flow(order, outs)
    coloured = add_numbers(drawing, known, grad_arrays, edge_arrays, grad_edges, flow)
    if highlight:
        mark_paths(drawing, resolve(order, highlight, "highlight"))
    picture = new_picture(mode_title(title, order, mode), rankdir, max_width)
    if edge_labels is None:
        edge_labels = len(order) <= AUTO_EDGE_LABELS
    draw(
        picture,
        drawing,
        clusters=clusters,
        collapse=collapse_depth(collapse),
        edge_labels=edge_labels,
        expand=expand_set(expand),
    )
    legend(picture, bool(known), bool(grad_arrays), coloured)
    return picture
