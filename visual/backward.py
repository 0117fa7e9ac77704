"""The backward graph: what `gc.grad` built, alone or beside the forward graph, each backward
node tied to the forward node whose cotangent it computes (reverse mode's `origin`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import graphc as gc
from graphc import GraphError, Node
from graphc.diff.reverse import origin
from graphc.ir import as_list

from .annotate import FLOATS, node_values
from .draw import Drawing, draw
from .labels import caption, html_label
from .mode import live_order, mode_title, resolve_mode
from .rendering import (
    AUTO_EDGE_LABELS,
    MAX_WIDTH,
    add_numbers,
    check_values,
    forward_drawing,
    leaf_kind,
    new_picture,
)
from .style import NODE_STYLE, REUSE_EDGE, SIDE_CLUSTER, TIE_EDGE

ORIGIN_COLOR = "#9f1239"


def gradient_nodes(
    y: Node, wrt: Any, grads: Any, raw: bool = True, training: bool | None = None
) -> tuple[Node, list, list]:
    """(y, wrt, gradient nodes): `grads` as given (a list aligned with `wrt`, or a dict from
    wrt nodes to gradient nodes of any mode), or reverse mode's `gc.grad(y, wrt)`; unless
    `raw`, resolved for the mode (`gc.specialize`, y with them) and simplified by graphc's
    passes (`gc.optimize`: no broadcast chains, fused rules)."""
    if isinstance(wrt, Mapping):
        raise GraphError(
            "got a dict where wrt belongs: the backward pictures take (y, wrt, grads) and "
            "values= by keyword, e.g. render_backward(loss, wrt=[W, b], values=values)"
        )
    if isinstance(grads, Mapping):
        wrt = list(grads) if wrt is None else as_list(wrt)
        missing = [caption(w) for w in wrt if w not in grads]
        if missing:
            raise GraphError(f"grads has no gradient node for {', '.join(missing)}")
        grads = as_list([grads[w] for w in wrt])
    else:
        if wrt is None:
            raise GraphError("say which nodes the gradients are for: wrt=[W, b, ...]")
        wrt = as_list(wrt)
        grads = gc.grad(y, wrt) if grads is None else as_list(grads)
        if len(grads) != len(wrt):
            raise GraphError(f"got {len(grads)} gradient nodes for {len(wrt)} wrt nodes")
    if raw:
        return y, wrt, grads
    if training is not None:
        y, *grads = gc.specialize([y, *grads], training)
    # y goes through the passes too, so the forward nodes the gradients read stay the
    # forward graph's own (a pass that rebuilt them alone would draw them as backward)
    y, *grads = gc.optimize([y, *grads]).outputs
    return y, wrt, grads


def backward_drawing(
    y: Node,
    wrt: list[Node],
    grads: list[Node],
    prefix: str = "",
    context: bool = True,
    training: bool | None = None,
) -> Drawing:
    """A drawing of the gradient graph: backward nodes red with the forward node they came
    from, the gradients as double boxes titled ∂y/∂w, forward nodes (if `context`) faded.
    With a mode, only the branch that mode runs."""
    forward = {n.id for n in gc.topological_order(y)}
    order = live_order(gc.topological_order(grads), grads, training)
    order = [n for n in order if context or n.id not in forward]
    drawing = Drawing(order, {}, prefix=prefix, training=training)
    for node in order:
        if node.id in forward:
            drawing.kinds[node.id] = leaf_kind(node)
            drawing.marks[node.id] = "faded"
            continue
        drawing.kinds[node.id] = "const" if node.op == "const" else "backward"
        source = origin(node)
        if source is not None and node.op != "const":
            drawing.notes[node.id] = [(f"from {caption(source)}", ORIGIN_COLOR)]
    for w, g in zip(wrt, grads):
        if g.id not in forward and g.id not in drawing.titles:
            drawing.kinds[g.id] = "gradient"
            drawing.titles[g.id] = gradient_title(y, w)
            drawing.marks.pop(g.id, None)
    return drawing


def gradient_title(y: Node, w: Node) -> str:
    """How a gradient output is called: ∂loss/∂W, or ∂L/∂W for an unnamed output (the
    passes may have rebuilt it as another op, whose label would mislead)."""
    return f"∂{y.name or 'L'}/∂{caption(w)}"


def add_gradient_outputs(graph, drawings: list[Drawing], y: Node, wrt: list, grads: list):
    """One box per wrt node even when gradients share a node ((x + y)·z: ∂/∂x is ∂/∂y) or
    are a forward node (∂(x·y)/∂x is y): a box titled ∂y/∂w with an arrow from that node."""
    titled = {g.id for w, g in zip(wrt, grads) if drawings[-1].titles.get(g.id)}
    for k, (w, g) in enumerate(zip(wrt, grads)):
        if drawings[-1].titles.get(g.id) == gradient_title(y, w) and g.id in titled:
            titled.discard(g.id)  # the node itself carries this title
            continue
        drawing = next((d for d in reversed(drawings) if g in d.order), drawings[-1])
        name = f"{drawings[-1].prefix}grad{k}"
        graph.node(name, label=html_label(gradient_title(y, w)), **NODE_STYLE["gradient"])
        graph.edge(drawing.name(g), name)


def tie_source(node: Node, forward: dict[int, int]) -> Node | None:
    """The forward node a backward node sits beside: the one whose cotangent made it, or,
    for a node the passes rebuilt (no record of that), the earliest float forward node it
    reads (prelu'(x) reads prelu's input before alpha, softmax - onehot the log-softmax)."""
    source = origin(node)
    if source is not None and source.id in forward:
        return source
    reads = [c for c in node.inputs if c.id in forward and c.op != "const" and c.dtype in FLOATS]
    return min(reads, key=lambda c: forward[c.id], default=None)


def render_backward(
    y: Node,
    wrt: Node | Iterable[Node] | None = None,
    grads: Any = None,
    values: Mapping | None = None,
    *,
    raw: bool = False,
    clusters: bool | None = None,
    edge_labels: bool | None = None,
    title: str | None = None,
    training: bool | None = None,
    max_width: int | None = MAX_WIDTH,
):
    """Draw the gradient graph of scalar `y` (reverse mode's `gc.grad(y, wrt)` unless `grads`
    gives gradient nodes), simplified by graphc's passes unless `raw` (the tape as reverse
    mode built it); with `values` every node shows its value in the `training` mode."""
    check_values(values, "render_backward")
    mode = resolve_mode(training, values)
    y, wrt, grads = gradient_nodes(y, wrt, grads, raw, mode)
    drawing = backward_drawing(y, wrt, grads, training=mode)
    add_numbers(drawing, node_values(drawing.order, values, bool(mode)), {}, {}, False)
    picture = new_picture(mode_title(title, drawing.order, mode), "TB", max_width)
    if edge_labels is None:
        edge_labels = len(drawing.order) <= AUTO_EDGE_LABELS
    # the passes rebuild nodes outside the scopes they replace: clusters only on the raw tape
    draw(picture, drawing, clusters=raw if clusters is None else clusters, edge_labels=edge_labels)
    add_gradient_outputs(picture, [drawing], y, wrt, grads)
    return picture


def render_combined(
    y: Node,
    wrt: Node | Iterable[Node] | None = None,
    grads: Any = None,
    values: Mapping | None = None,
    *,
    raw: bool = False,
    ties: bool = True,
    reuse_edges: bool = False,
    edge_labels: bool | None = None,
    title: str | None = None,
    training: bool | None = None,
    rankdir: str = "TB",
    max_width: int | None = MAX_WIDTH,
):
    """Forward and backward together: the forward pass flows from the inputs to the loss, the
    backward pass beside it flows back from the loss to the params, and a dotted tie joins
    each forward node to the backward nodes its cotangent made. rankdir "TB" (default) puts
    backward beside forward, which fits a notebook column; "LR" puts it under.
    `reuse_edges` draws (dashed) where the backward pass reads a forward value; `raw`
    draws reverse mode's tape unsimplified."""
    check_values(values, "render_combined")
    mode = resolve_mode(training, values)
    y, wrt, grads = gradient_nodes(y, wrt, grads, raw, mode)
    fwd_order = live_order(gc.topological_order(y), [y], mode)
    fwd = forward_drawing(fwd_order, [y], prefix="f", training=mode)
    bwd = backward_drawing(y, wrt, grads, prefix="b", context=False, training=mode)
    known = values and node_values(gc.topological_order([y, *grads]), values, bool(mode))
    if known:
        add_numbers(fwd, known, {}, {}, False)
        add_numbers(bwd, known, {}, {}, False)
    # backprop flows from the loss up to the params: rank each backward edge reversed
    for node in bwd.order:
        for child in node.inputs:
            bwd.edges[(child.id, node.id)] = {"_reverse": "1"}
    picture = new_picture(mode_title(title, fwd_order, mode), rankdir, max_width)
    if edge_labels is None:
        edge_labels = len(fwd_order) + len(bwd.order) <= AUTO_EDGE_LABELS
    for drawing, label in ((fwd, "forward"), (bwd, "backward (reverse mode)")):
        with picture.subgraph(name=f"cluster_{drawing.prefix}_side") as side:
            side.attr(label=label, **SIDE_CLUSTER)
            draw(side, drawing, clusters=False, edge_labels=edge_labels)
            if drawing is bwd:
                add_gradient_outputs(side, [fwd, bwd], y, wrt, grads)
    forward_ids = {n.id: k for k, n in enumerate(fwd_order)}
    tied: set[int] = set()
    for node in bwd.order:
        source = tie_source(node, forward_ids)
        # one tie per forward node keeps the picture readable; each node's note names it
        if ties and source is not None and source.id in forward_ids and source.id not in tied:
            tied.add(source.id)
            picture.edge(fwd.name(source), bwd.name(node), **TIE_EDGE)
        if reuse_edges:
            for child in node.inputs:
                if child.id in forward_ids:
                    picture.edge(fwd.name(child), bwd.name(node), **REUSE_EDGE)
    return picture
