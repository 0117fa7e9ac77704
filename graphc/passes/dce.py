"""Dead-node elimination: drop every node whose value no output needs.

A graph is defined by its outputs, so unreachable nodes are gone already. What remains dead
are nodes kept alive only for their *shape*: an op reads its `OpDef.shape_only` inputs (such
as `broadcast_like`'s reference and `axis_size`'s input) only for their sizes. Reverse mode
makes many such uses (the gradient of a mean refers back to the forward loss for the batch
size). This pass points
each shape-only use at a node that is computed anyway (or at an input leaf) with the same
symbolic run-time shape (see `shapes.py`), so the forward nodes it referred to can go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..ir import Node, as_list, rebuild, topological_order
from ..ops.registry import apply, get
from .shapes import runtime_shape, shape_scope


def value_live(outputs: list[Node], order: list[Node]) -> set[int]:
    """Ids of the nodes in `order` whose value (not only their shape) an output needs."""
    live = {o.id for o in outputs}
    for node in reversed(order):
        if node.id in live:
            skip = get(node.op).shape_only
            live.update(x.id for k, x in enumerate(node.inputs) if k not in skip)
    return live


class _Providers:
    """Nodes already computed (live ones and input leaves), by symbolic shape and by dimension.

    Filled in topological order, so a provider never depends on the node that uses it."""

    def __init__(self):
        self.whole: dict[tuple, Node] = {}
        self.dims: dict[object, tuple[Node, int]] = {}

    def add(self, old: Node, new: Node) -> None:
        terms = runtime_shape(old)
        self.whole.setdefault((old.shape, terms), new)
        for axis, term in enumerate(terms):
            if not isinstance(term, int):
                self.dims.setdefault(term, (new, axis))

    def repoint(self, old: Node, new: Node, live: set[int]) -> Node | None:
        """`new` with its shape-only input replaced by a provider, or None if it stays."""
        (position,) = get(old.op).shape_only
        ref = old.inputs[position]
        if ref.id in live or ref.is_leaf:
            return None
        other = self.whole.get((ref.shape, runtime_shape(ref)))
        if other is not None:
            inputs = list(new.inputs)
            inputs[position] = other
            return new.with_inputs(inputs)
        sizes = get(old.op).reads_sizes  # the size of one axis can be read off any node with it
        if sizes is None:
            return None
        terms = [runtime_shape(ref)[a] for a in old.attrs[sizes]]
        if len(terms) != 1 or isinstance(terms[0], int) or terms[0] not in self.dims:
            return None  # several axes, or a static size that constant folding handles
        inputs = list(new.inputs)
        inputs[position], axis = self.dims[terms[0]]
        attrs = {**old.attrs, sizes: (axis,)}
        return apply(old.op, *inputs, _name=old.name, _scope=old.scope, _site=old.site, **attrs)


def eliminate_dead_nodes(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Drop nodes needed only for their shape; return the new outputs and {"repointed": n}."""
    with shape_scope():
        return _eliminate(as_list(outputs))


def _eliminate(outputs: list[Node]) -> tuple[list[Node], Counter]:
    order = topological_order(outputs)
    live = value_live(outputs, order)
    if len(live) == len(order):  # no node is kept only for its shape
        return outputs, Counter(repointed=0)
    for node in order:  # every symbol unified before any is used as a key
        runtime_shape(node)
    providers = _Providers()
    repointed = 0

    def visit(old: Node, new: Node) -> Node:
        nonlocal repointed
        if len(get(old.op).shape_only) == 1 and old.id in live:
            moved = providers.repoint(old, new, live)
            if moved is not None:
                new, repointed = moved, repointed + 1
        if old.id in live or old.op == "input":
            providers.add(old, new)
        return new

    return rebuild(outputs, visit, order=order), Counter(repointed=repointed)
