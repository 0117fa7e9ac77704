"""Reverse mode as a graph transformation: walk the graph backwards, apply each op's vjp
rules, sum the cotangents that meet at a node, and undo broadcasting."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from ..errors import GraphError
from ..ir import Node, site_as, topological_order
from ..ops.registry import FLOAT_DTYPES, F, broadcast_shapes, get, lift


def fit_to(value: Node, like: Node) -> Node:
    """`value` brought to the shape of `like`: broadcast up and/or summed down."""
    if value.shape == like.shape:
        return value
    if broadcast_shapes(value.shape, like.shape) != value.shape:
        value = F.broadcast_like(value, like)
    return value if value.shape == like.shape else F.sum_to(value, shape=like.shape)


def zeros_like(node: Node) -> Node:
    """Zeros of `node`'s (run-time) shape and dtype, without reading its value."""
    return F.broadcast_like(lift(0.0, node), node)


# Provenance for renderings: each node reverse mode builds -> the forward node whose cotangent
# it was building. Weak keys, so gradient graphs die as usual; node identity is untouched.
_ORIGIN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def origin(node: Node) -> Node | None:
    """The forward node whose cotangent (or vjp rule) reverse mode was building when it made
    `node`; None for nodes reverse mode did not make."""
    return _ORIGIN.get(node)


def _mark(result: Node, forward: Node, known: set[int]) -> Node:
    """Record `forward` as the origin of the nodes in `result` that this vjp call just made."""
    stack = [result]
    while stack:
        node = stack.pop()
        if node.id not in known and node not in _ORIGIN:
            _ORIGIN[node] = forward
            stack.extend(node.inputs)
    return result


def depends_on(
    order: Sequence[Node], targets: Sequence[Node], differentiably: bool = False
) -> set[int]:
    """Ids of the nodes in `order` that some target feeds into (the targets included);
    `differentiably`: only through inputs the op has a vjp rule for (a gradient stops at a
    count such as axis_size, and at an op without rules)."""
    found = {t.id for t in targets}
    for node in order:
        if differentiably:
            rules = get(node.op).vjp or ()
            reached = any(i.id in found and r is not None for i, r in zip(node.inputs, rules))
        else:
            reached = any(i.id in found for i in node.inputs)
        if reached:
            found.add(node.id)
    return found


def vjp(
    outputs: Sequence[Node],
    cotangents: Sequence[Node],
    wrt: Sequence[Node],
    trace: dict | None = None,
) -> list[Node]:
    """Nodes for sum_k cotangents[k]^T d outputs[k] / d wrt[i], one per `wrt`.

    `trace`, when given, receives the chain rule as it was applied, for renderers that
    write each step (the readable module): forward node id -> (its cotangent node, [(the
    user whose vjp rule made it, or None for a seed, contribution node), ...])."""
    if len(outputs) != len(cotangents):
        raise GraphError(f"vjp: {len(outputs)} outputs but {len(cotangents)} cotangents")
    order = topological_order(list(outputs))
    live = depends_on(order, wrt)
    known = {node.id for node in order}  # forward nodes and the caller's cotangents
    pending: dict[int, list[Node]] = {}
    users: dict[int, list[Node | None]] = {}  # who made each pending part (for `trace`)
    for out, ct in zip(outputs, cotangents):
        ct = lift(ct, out)
        known.add(ct.id)
        pending.setdefault(out.id, []).append(_mark(fit_to(ct, out), out, known))
        users.setdefault(out.id, []).append(None)
    total: dict[int, Node] = {}
    for node in reversed(order):
        parts, made_by = pending.pop(node.id, None), users.pop(node.id, None)
        if not parts or node.id not in live:
            continue
        with site_as(node.site):  # a rule's nodes cite the line that built `node`
            g = parts[0]
            for part in parts[1:]:
                g = g + part
            total[node.id] = _mark(g, node, known)
            if trace is not None:
                trace[node.id] = (total[node.id], list(zip(made_by, parts)))
            opdef = get(node.op)
            if opdef.leaf or opdef.nondiff:
                continue
            for x, rule in zip(node.inputs, opdef.vjp):
                if rule is not None and x.id in live:
                    part = _mark(fit_to(rule(g, node), x), node, known)
                    pending.setdefault(x.id, []).append(part)
                    users.setdefault(x.id, []).append(node)
    return [total[w.id] if w.id in total else _mark(zeros_like(w), w, known) for w in wrt]


def check_gradient_args(y: Node | None, wrt: Sequence[Node]) -> None:
    """Refuse what no differentiation mode can do: a non-scalar or non-float output (y=None
    skips that check, for JVPs of any output), or a wrt node that is not float."""
    for what, node in [("y", y), *(("wrt", w) for w in wrt)]:
        if node is not None and not isinstance(node, Node):
            raise GraphError(
                f"the gradient's {what} must be a graph node (made with gc.input, gc.param or "
                f"an op), got {type(node).__name__} {node!r:.40}"
            )
    if y is not None and (y.shape != () or y.dtype not in FLOAT_DTYPES):
        raise GraphError(
            f"{y.site}: the gradient needs a scalar float output, got shape "
            f"{y.shape} and dtype {y.dtype}"
        )
    for w in wrt:
        if w.dtype not in FLOAT_DTYPES:
            raise GraphError(
                f"{w.site}: cannot differentiate with respect to {w.op} "
                f"{w.name or ''} of dtype {w.dtype}; only float nodes have "
                "derivatives"
            )


def gradient_graph(y: Node, wrt: Sequence[Node]) -> list[Node]:
    """The gradient of scalar `y` with respect to each node in `wrt`, as graph nodes."""
    check_gradient_args(y, wrt)
    with site_as(y.site):  # dL/dL = 1 belongs to the loss's line
        seed = lift(1.0, y)
    _ORIGIN[seed] = y
    return vjp([y], [seed], wrt)
