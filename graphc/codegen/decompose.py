"""Decompose: rewrite every op into primitive ops, each one call of an array-API function
(or of a runtime helper), then run the ordinary passes over the result.

An op is primitive when its OpDef names an `array_fn` or a `helper`, or when the target's
runtime computes it in one call (`native`: the JAX module's convolutions); any other op
carries a `decompose` builder written with `F`, applied here until only primitives remain. The
nodes a builder makes take the site and scope of the op they replace, so generated code
still points at the user's line, and `Origins` remembers which op each stood for (the
comments and variable names of the generated code speak of `prelu`, not of `where`),
following them through the passes, which rebuild nodes (`ir.track_moves`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import GraphError
from ..ir import Node, moved, topological_order, track_moves
from ..ops.registry import REGISTRY, apply
from ..passes.fusion import fuse_for_lowering
from ..passes.pipeline import optimize

# after decomposition (the graph was folded and simplified before it): the lowering-only
# fusions (sum of squares -> vdot, a sum of partial sums -> one sum, PReLU's slope
# factored out), common subexpressions, which merge what decomposed ops share (PReLU's
# slope in the forward and the backward, log-softmax's shifted logits), and dead nodes
# (the partial sums a batch size still read)
PASSES = (fuse_for_lowering, "cse", "dce")


@dataclass
class Origins:
    """What decomposed nodes stood for, by node id: the op node a builder's result replaced
    (`roots`), and the builders' intermediate steps (`inner`)."""

    roots: dict[int, Node] = field(default_factory=dict)
    inner: set[int] = field(default_factory=set)

    def follow(self, moves: dict[int, Node]) -> None:
        """Re-key by the nodes that took their places (the moves of `ir.track_moves`); a
        node that stood for an op keeps that origin when it merges with an inner step."""
        roots: dict[int, Node] = {}
        for node_id, origin in self.roots.items():
            roots.setdefault(moved(moves, node_id), origin)
        self.roots = roots
        self.inner = {moved(moves, i) for i in self.inner} - roots.keys()


def optimized(graph: Sequence[Node], origins: Origins, passes) -> list[Node]:
    """`graph` through `passes`, its origins following the nodes the passes rebuild."""
    with track_moves() as moves:
        outputs = optimize(list(graph), passes).outputs
    origins.follow(moves)
    return outputs


def is_primitive(node: Node, native: frozenset[str] = frozenset()) -> bool:
    """Whether renderers write `node` as one call (or it is a leaf); `native` names the ops
    the target's runtime computes whole."""
    opdef = REGISTRY[node.op]
    return opdef.leaf or opdef.array_fn is not None or opdef.helper is not None or node.op in native


def decompose(
    outputs: Sequence[Node], native: frozenset[str] = frozenset()
) -> tuple[list[Node], Origins]:
    """The graph of `outputs` with every op rewritten into primitives (the ops in `native`
    kept whole), and their origins."""
    origins = Origins()
    done: dict[int, Node] = {}  # old node id -> its primitive replacement
    for node in topological_order(list(outputs)):
        inputs = [done.get(i.id, i) for i in node.inputs]
        new = (
            node.with_inputs(inputs)
            if any(a is not b for a, b in zip(inputs, node.inputs))
            else node
        )
        if not is_primitive(new, native):
            new = _expand(new, origins, native)
        if new is not node:
            done[node.id] = new
    return [done.get(o.id, o) for o in outputs], origins


def _expand(node: Node, origins: Origins, native: frozenset[str]) -> Node:
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
        if not is_primitive(new, native):
            new = _expand(new, origins, native)
        if root:
            origins.roots.setdefault(new.id, node)
        else:
            origins.inner.add(new.id)
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


def primitive_graph(
    outputs: Sequence[Node], native: frozenset[str] = frozenset()
) -> tuple[list[Node], Origins]:
    """`outputs` decomposed into primitives (`native` ops kept whole) and passed through the
    lowering passes."""
    graph, origins = decompose(outputs, native)
    return optimized(graph, origins, PASSES), origins  # these passes build primitives only
