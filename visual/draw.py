"""The DOT builder: turns a `Drawing` (nodes, their kinds and decorations) into Graphviz
statements, with one cluster per scope, or one box per scope when collapsed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import graphviz

from graphc import Node
from graphc.ops.composite import COMPOSITE_SCOPES

from .labels import format_shape, html_label, node_lines, shape_dtype
from .mode import mode_inputs
from .style import CLUSTER, MARKS, NODE_STYLE


@dataclass
class Drawing:
    """One graph to draw: its nodes (inputs first) and what decorates them.

    kinds   node id -> a NODE_STYLE row ("input", "param", "op", "output", "backward", ...)
    titles  node id -> a title replacing the generated one (e.g. "∂loss/∂W")
    notes   node id -> extra (text, colour) lines: value and gradient summaries, provenance
    marks   node id -> a MARKS row ("highlight", "added", "removed", ...)
    tooltips node id -> the text shown on hover (default: op, shape and where it was made)
    training the mode drawn: a mode choice's other input gets no edge (None: both modes)
    edges   (source id, target id) -> extra edge attributes (gradient colour, highlight)
    prefix  prepended to every DOT name, so several drawings can share one picture
    """

    order: list[Node]
    kinds: dict[int, str]
    titles: dict[int, str] = field(default_factory=dict)
    notes: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    marks: dict[int, str] = field(default_factory=dict)
    edges: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)
    tooltips: dict[int, str] = field(default_factory=dict)
    training: bool | None = None
    prefix: str = ""

    def name(self, node: Node) -> str:
        """The DOT name of a node."""
        return f"{self.prefix}n{node.id}"


def node_attrs(drawing: Drawing, node: Node) -> dict[str, str]:
    """The Graphviz attributes of one node: its kind's style, its mark, its label."""
    attrs = dict(NODE_STYLE[drawing.kinds.get(node.id, "op")])
    attrs.update(MARKS.get(drawing.marks.get(node.id), {}))
    title, lines = node_lines(node)
    title = drawing.titles.get(node.id, title)
    attrs["label"] = html_label(title, lines, drawing.notes.get(node.id, ()))
    attrs["tooltip"] = drawing.tooltips.get(
        node.id, f"{node.op} {shape_dtype(node)}, made at {node.site}"
    )
    return attrs


def group_of(node: Node, depth: int, expand: bool | frozenset) -> str | None:
    """The collapsed box a node falls into: its scope cut to `depth` parts, or at its
    outermost composite (a loss or layer) not in `expand`, whichever is outer; nodes of
    shallower scopes stay nodes (inside their scope's cluster)."""
    parts = node.scope.split("/") if node.scope else ()
    cut = depth if len(parts) >= depth > 0 else None
    if expand is not True:
        expand = expand or frozenset()
        for k, part in enumerate(parts[: cut or len(parts)]):
            if part in COMPOSITE_SCOPES and part not in expand:
                cut = k + 1
                break
    return "/".join(parts[:cut]) if cut else None


CALL = "#"  # a box key's suffix when one scope path holds several calls of a composite


def box_groups(order: list[Node], collapse: int, expand: bool | frozenset) -> dict[int, str]:
    """The collapsed box of every boxed node. Calls of a composite in one scope (three L2
    penalties of a sum) share a scope path but are separate boxes: the ops connected
    inside the path, numbered in forward order (path, path#2, ...); a leaf made inside
    joins its first reader's box."""
    paths = {n.id: g for n in order if (g := group_of(n, collapse, expand)) is not None}
    parent = {i: i for i in paths}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def composite(path: str) -> bool:
        return path.rsplit("/", 1)[-1] in COMPOSITE_SCOPES

    for node in order:
        if node.is_leaf or node.id not in paths or not composite(paths[node.id]):
            continue
        for child in node.inputs:
            if paths.get(child.id) == paths[node.id] and (
                not child.is_leaf or root(child.id) == child.id
            ):
                parent[root(child.id)] = root(node.id)
    keys: dict[int, str] = {}
    calls: dict[str, list[int]] = {}
    for node in order:
        path = paths.get(node.id)
        if path is None or node.is_leaf:
            continue
        known = calls.setdefault(path, [])
        if root(node.id) not in known:
            known.append(root(node.id))
        k = known.index(root(node.id))
        keys[node.id] = path if k == 0 or not composite(path) else f"{path}{CALL}{k + 1}"
    for node in order:  # leaves: their first reader's box
        if node.id in paths and node.is_leaf:
            keys[node.id] = keys.get(root(node.id), paths[node.id])
    return keys


def box_path(key: str) -> str:
    """The scope path of a box key."""
    return key.split(CALL, 1)[0]


def _box_attrs(drawing: Drawing, path: str, members: list[Node]) -> dict[str, str]:
    """A collapsed scope: a composite's label, its result's shape and numbers; a user's
    scope: its path, how many ops it holds and the params inside."""
    path = box_path(path)
    part = path.rsplit("/", 1)[-1]
    if part in COMPOSITE_SCOPES:
        return _composite_attrs(drawing, part, members)
    ops = sum(1 for n in members if not n.is_leaf)
    params = [f"{n.name} {format_shape(n.shape)}" for n in members if n.op == "param"]
    lines = [f"{ops} ops, {len(members)} nodes"] + params[:4]
    if len(params) > 4:
        lines.append(f"+{len(params) - 4} more params")
    attrs = dict(NODE_STYLE["scope"])
    mark = next((drawing.marks[n.id] for n in members if n.id in drawing.marks), None)
    attrs.update(MARKS.get(mark, {}))
    attrs["label"] = html_label(path, lines)
    attrs["tooltip"] = f"scope {path}: {len(members)} nodes"
    return attrs


def _composite_attrs(drawing: Drawing, part: str, members: list[Node]) -> dict[str, str]:
    """One box for a loss or layer: its label (with the result's name), the result's shape,
    and the numbers drawn on the result."""
    result = members[-1]  # members come in topological order: the builder's result is last
    title = COMPOSITE_SCOPES[part].label or part.replace("_", " ")
    numbered = drawing.titles.get(result.id, "")  # "L2 penalty₂": one of several such boxes
    title = numbered if numbered.startswith(title) else title
    if result.name:
        title = f"{result.name} = {title}"
    attrs = dict(NODE_STYLE["composite"])
    mark = next((drawing.marks[n.id] for n in members if n.id in drawing.marks), None)
    attrs.update(MARKS.get(mark, {}))
    attrs["label"] = html_label(title, [shape_dtype(result)], drawing.notes.get(result.id, ()))
    ops = sorted({n.op for n in members if not n.is_leaf})
    attrs["tooltip"] = drawing.tooltips.get(
        result.id, f"{part}: {len(members)} nodes ({', '.join(ops)}); expand=[{part!r}]"
    )
    return attrs


def _emit(graph: graphviz.Digraph, path: str, items: dict, prefix: str) -> None:
    """Add the nodes of scope `path` and, nested inside, one cluster per child scope."""
    for name, attrs in items[path]["nodes"]:
        graph.node(name, **attrs)
    for child in sorted(items[path]["children"]):
        with graph.subgraph(name=f"cluster_{prefix}{child}") as sub:
            sub.attr(label=child.rsplit("/", 1)[-1], tooltip=f"scope {child}", **CLUSTER)
            _emit(sub, child, items, prefix)


def draw(
    graph: graphviz.Digraph,
    drawing: Drawing,
    clusters: bool = True,
    collapse: int = 0,
    edge_labels: bool = True,
    expand: bool | frozenset = True,
) -> dict[int, str]:
    """Add a drawing's nodes and edges to `graph`; returns each node's DOT name (a boxed
    node's is its box's).

    `clusters` groups nodes by scope; `collapse` > 0 draws each scope (cut to that many
    levels) as a single box; `expand` True draws every op of the composites (losses,
    layers), else a set of composite names to open (the rest are one box each);
    `edge_labels` writes the shape flowing along each edge.
    """
    items: dict[str, dict] = defaultdict(lambda: {"nodes": [], "children": set()})

    def place(container: str | None, name: str, attrs: dict) -> None:
        path = container if clusters and container else ""
        items[path]["nodes"].append((name, attrs))
        while path:  # make sure every enclosing scope has its cluster
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            items[parent]["children"].add(path)
            path = parent

    members: dict[str, list[Node]] = defaultdict(list)
    boxes: dict[str, str] = {}  # scope path -> DOT name (no ':' there: DOT reads it as a port)
    endpoint: dict[int, str] = {}
    groups = box_groups(drawing.order, collapse, expand)
    for node in drawing.order:
        group = groups.get(node.id)
        if group is None:
            endpoint[node.id] = drawing.name(node)
            place(node.scope, endpoint[node.id], node_attrs(drawing, node))
        else:
            box = boxes.setdefault(group, f"{drawing.prefix}scope{len(boxes)}")
            endpoint[node.id] = box
            members[group].append(node)
    for group, nodes in members.items():
        path = box_path(group)
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        place(parent, boxes[group], _box_attrs(drawing, group, nodes))
    _emit(graph, "", items, drawing.prefix)
    grouped = {n.id for nodes in members.values() for n in nodes}

    crossing: dict[tuple[str, str], list[tuple[Node, Node]]] = defaultdict(list)
    for node in drawing.order:
        for child in mode_inputs(node, drawing.training):
            if child.id not in endpoint:
                continue  # an input outside this drawing: the caller ties it in
            source, target = endpoint[child.id], endpoint[node.id]
            if members and source == target:
                continue  # an edge inside a collapsed box
            if members and (child.id in grouped or node.id in grouped):
                crossing[(source, target)].append((child, node))
                continue
            _add_edge(graph, source, target, _edge_attrs(drawing, [(child, node)], edge_labels))
    for (source, target), pairs in crossing.items():
        _add_edge(graph, source, target, _edge_attrs(drawing, pairs, edge_labels))
    return endpoint


def _add_edge(graph: graphviz.Digraph, source: str, target: str, attrs: dict) -> None:
    """Add an edge; `_reverse` ranks it target-above-source (drawn with its arrow reversed),
    for the backward graph, whose values flow from the loss up to the params."""
    if attrs.pop("_reverse", None):
        graph.edge(target, source, dir="back", **attrs)
    else:
        graph.edge(source, target, **attrs)


def _edge_attrs(drawing: Drawing, pairs: list[tuple[Node, Node]], labels: bool) -> dict:
    """One edge's attributes; several pairs (a collapsed box's edge) share one edge."""
    attrs: dict[str, str] = {}
    for child, node in pairs:
        attrs.update(drawing.edges.get((child.id, node.id), {}))
    tensors = {child.id: child for child, _ in pairs}
    text = attrs.pop("note", None)
    if labels and not (len(tensors) == 1 and pairs[0][0].op == "const"):
        shape = format_shape(pairs[0][0].shape) if len(tensors) == 1 else f"{len(tensors)} tensors"
        text = f"{shape}\\n{text}" if text else shape
    if text:
        attrs["label"] = text
    return attrs
