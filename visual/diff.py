"""Two graphs side by side (before and after an optimization pass) with what changed marked:
nodes are matched by structure (op, attributes, dtype and matched inputs; leaves by name),
so a rebuilt but equal subgraph counts as unchanged."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import graphc as gc
from graphc import GraphError, Node
from graphc.ir import as_list

from .draw import draw
from .rendering import MAX_WIDTH, forward_drawing, new_picture
from .style import SIDE_CLUSTER


def signatures(order: list[Node], table: dict) -> dict[int, int]:
    """A structural signature per node id, interned in `table` (shared between graphs so
    signatures compare across them). Leaves match by op and name, consts by value."""
    sig: dict[int, int] = {}
    for node in order:
        if node.op == "const":
            key = ("const", node.structural_key[2], node.dtype, node.shape)
        elif node.is_leaf:
            key = (node.op, node.name, node.shape, node.dtype)
        else:
            key = (
                node.op,
                node.structural_key[2],
                node.dtype,
                tuple(sig[i.id] for i in node.inputs),
            )
        sig[node.id] = table.setdefault(key, len(table))
    return sig


def changes(before: list[Node], after: list[Node]) -> dict[str, dict[int, str]]:
    """Marks for each side: 'removed' (before only), 'added' (after only), 'merged' (a
    structure that occurs fewer times after, as common-subexpression elimination does)."""
    table: dict = {}
    sig_before, sig_after = signatures(before, table), signatures(after, table)
    count_before, count_after = Counter(sig_before.values()), Counter(sig_after.values())
    marks_before = {i: "removed" for i, s in sig_before.items() if s not in count_after}
    marks_after = {i: "added" for i, s in sig_after.items() if s not in count_before}
    for i, s in sig_after.items():
        if s in count_before and count_after[s] < count_before[s]:
            marks_after[i] = "merged"
    for i, s in sig_before.items():
        if s in count_after and count_after[s] < count_before[s]:
            marks_before[i] = "merged"
    return {"before": marks_before, "after": marks_after}


def _sides(before: Any, after: Any, title: str | None) -> tuple[list, list, str | None]:
    """The two graphs: given directly, or as one step of `gc.optimize` (`.before`/`.after`
    and `.name`) or its whole result (`.original`/`.outputs`)."""
    if after is None and hasattr(before, "before") and hasattr(before, "after"):
        return (
            as_list(before.before),
            as_list(before.after),
            title or f"pass {getattr(before, 'name', '?')}",
        )
    if after is None and hasattr(before, "original") and hasattr(before, "outputs"):
        return as_list(before.original), as_list(before.outputs), title or "gc.optimize"
    if after is None:
        raise GraphError(
            "render_diff needs two graphs (before, after), or one step or result of gc.optimize"
        )
    return as_list(before), as_list(after), title


def render_diff(
    before: Node | Iterable[Node] | Any,
    after: Node | Iterable[Node] | None = None,
    *,
    labels: tuple[str, str] = ("before", "after"),
    edge_labels: bool = True,
    title: str | None = None,
    max_width: int | None = MAX_WIDTH,
):
    """Draw two graphs side by side: removed nodes red (left), added green (right), merged
    duplicates orange; the caption counts them. `before` may also be a step of
    `gc.optimize(...).steps` or the whole result, with `after` left out. At most
    `max_width` pixels wide (None: natural size)."""
    *outs, title = _sides(before, after, title)
    orders = gc.topological_order(outs[0]), gc.topological_order(outs[1])
    marks = changes(*orders)
    counts = Counter(marks["before"].values()), Counter(marks["after"].values())
    summary = (
        f"{labels[0]}: {len(orders[0])} nodes, {labels[1]}: {len(orders[1])} nodes; "
        f"{counts[0]['removed']} removed (red), {counts[1]['added']} added (green), "
        f"{counts[1]['merged']} merged (orange)"
    )
    picture = new_picture(f"{title}\\n{summary}" if title else summary, "TB", max_width)
    for side, (order, out, label, prefix) in enumerate(zip(orders, outs, labels, "ab")):
        drawing = forward_drawing(order, out, prefix=prefix)
        drawing.marks.update(marks["before" if side == 0 else "after"])
        with picture.subgraph(name=f"cluster_{prefix}_side") as sub:
            sub.attr(label=label, **SIDE_CLUSTER)
            draw(sub, drawing, clusters=False, edge_labels=edge_labels)
    return picture
