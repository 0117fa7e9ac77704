"""Decompose: rewrite every op into primitive ops, each one call of an array-API function
(or of a runtime helper), then run the ordinary passes over the result.

An op is primitive when its OpDef names an `array_fn` or a `helper`; any other op carries
a `decompose` builder written with `F`, applied here until only primitives remain. The
nodes a builder makes take the site and scope of the op they replace, so generated code
still points at the user's line, and `Origins` remembers which op each stood for (the
comments and variable names of the generated code speak of `prelu`, not of `where`). The
passes rebuild nodes, so origins are found again by what a node computes: a digest of
its op, attrs and inputs down to the leaves, which CSE and the other passes keep wherever
they leave a computation as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import GraphError
from ..ir import Node, topological_order
from ..ops.registry import REGISTRY, apply
from ..passes.fuse import fuse_for_lowering
from ..passes.pipeline import optimize

# after decomposition (the graph was folded and simplified before it): the lowering-only
# fusions (sum of squares -> vdot) and common subexpressions, which merge what decomposed
# ops share (PReLU's mask in the forward and the backward, log-softmax's shifted logits)
PASSES = ("cse", fuse_for_lowering)


@dataclass
class Origins:
    """What decomposed nodes stood for, by digest: the op node a builder's result replaced
    (`roots`), and the builders' intermediate steps (`inner`)."""

    roots: dict[int, Node] = field(default_factory=dict)
    inner: set[int] = field(default_factory=set)
    made: dict[int, Node] = field(default_factory=dict)  # node id -> origin, until digested
    made_inner: list[Node] = field(default_factory=list)

    def digest(self, graph: Sequence[Node]) -> dict[int, int]:
        """Record the digests of the nodes decomposition made; every node's digest."""
        digests = digests_of(graph)
        for node_id, origin in self.made.items():
            if node_id in digests:
                self.roots.setdefault(digests[node_id], origin)
        self.inner.update(digests[n.id] for n in self.made_inner if n.id in digests)
        self.made, self.made_inner = {}, []
        return digests


def digests_of(graph: Sequence[Node]) -> dict[int, int]:
    """A digest per node of what it computes: op, attrs, dtype and its inputs' digests;
    a leaf by identity, a const by value."""
    digests: dict[int, int] = {}
    for node in topological_order(list(graph)):
        if node.op == "const":
            value = node.attrs["value"]
            key = ("const", value.dtype.str, value.shape, value.tobytes())
        elif node.is_leaf:
            key = ("leaf", node.id)
        else:
            inputs = tuple(digests[i.id] for i in node.inputs)
            key = (node.op, node.structural_key[2], node.dtype, inputs)
        digests[node.id] = hash(key)
    return digests


def is_primitive(node: Node) -> bool:
    """Whether renderers write `node` as one call (or it is a leaf)."""
    opdef = REGISTRY[node.op]
    return opdef.leaf or opdef.array_fn is not None or opdef.helper is not None


def decompose(outputs: Sequence[Node]) -> tuple[list[Node], Origins]:
    """The graph of `outputs` with every op rewritten into primitives, and their origins."""
    origins = Origins()
    done: dict[int, Node] = {}  # old node id -> its primitive replacement
    for node in topological_order(list(outputs)):
        inputs = [done.get(i.id, i) for i in node.inputs]
        new = (
            node.with_inputs(inputs)
            if any(a is not b for a, b in zip(inputs, node.inputs))
            else node
        )
        if not is_primitive(new):
            new = _expand(new, origins)
        if new is not node:
            done[node.id] = new
    return [done.get(o.id, o) for o in outputs], origins


def _expand(node: Node, origins: Origins) -> Node:
    """`node` rebuilt from primitives (its inputs are primitive already)."""
    opdef = REGISTRY[node.op]
    if opdef.decompose is None:
        raise GraphError(
            f"{node.site}: op {node.op!r} cannot be lowered (no array_fn, helper or decompose "
            "in its OpDef; is the graph specialized for a mode?)"
        )
    result = opdef.decompose(node)
    if any(result is i for i in node.inputs):
        return result  # the op passes an input through (update_state)
    known = {i.id for i in node.inputs}
    rebuilt: dict[int, Node] = {}
    for part in _new_nodes(result, known):
        if part.is_leaf:  # a const the builder made (class ids, a 1.0)
            rebuilt[part.id] = part
            continue
        inputs = [rebuilt.get(i.id, i) for i in part.inputs]
        root = part is result
        new = apply(
            part.op,
            *inputs,
            _name=node.name if root else None,
            _scope=node.scope,
            _site=node.site,
            **dict(part.attrs),
        )
        if not is_primitive(new):
            new = _expand(new, origins)
        if root:
            origins.made.setdefault(new.id, node)
        else:
            origins.made_inner.append(new)
        rebuilt[part.id] = new
    return rebuilt[result.id]


def _new_nodes(result: Node, known: set[int]) -> list[Node]:
    """The nodes a builder made, in topological order (it stops at the op's inputs)."""
    order, seen, stack = [], set(known), [(result, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            order.append(node)
        elif node.id not in seen:
            seen.add(node.id)
            stack.append((node, True))
            stack.extend((i, False) for i in node.inputs if i.id not in seen)
    return order


def primitive_graph(outputs: Sequence[Node]) -> tuple[list[Node], Origins]:
    """`outputs` decomposed into primitives and passed through the lowering passes."""
    graph, origins = decompose(outputs)
    origins.digest(graph)
    return optimize(graph, PASSES).outputs, origins  # these passes build primitives only
