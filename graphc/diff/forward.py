"""Forward mode as a graph transformation: push tangents from the inputs to the outputs.

`jvp(outputs, wrt, tangents)` builds the tangent graph from each op's jvp rules (one rule
per input, or MULTILINEAR: the op applied with that input replaced by its tangent). Tangent
terms from several inputs are summed; a term smaller than its node is broadcast up.

A full gradient in forward mode costs one JVP per element of `wrt` -- the lecture's
"computationally expensive". Two entry points show that cost:

* `forward_gradient(y, wrt, values)` builds the JVP graph once, with the tangent as an
  input leaf, and evaluates it once per basis tangent. It returns a `ForwardGradient`
  whose `jvp_evaluations` counts the evaluations it really made (each one runs the primal
  and the tangent graph together, as forward mode does).
* `gc.grad(y, wrt, mode="forward")` returns graph nodes: one tangent graph per basis
  tangent (sharing the primal), assembled into arrays. `forward_jvp_count(y, wrt, ...)`
  says how many tangent graphs that is.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node, as_list, leaves, site_as, substitute, topological_order
from ..ops.leaves import const
from ..ops.leaves import input as input_leaf
from ..ops.registry import FLOAT_DTYPES, MULTILINEAR, get, lift
from .reverse import check_gradient_args, depends_on, fit_to, zeros_like

_holder_ids = itertools.count()
MAX_NODES = 2_000_000  # about 2 GB of graph: a gradient as nodes beyond that is a mistake


def tangent_holders(wrt: Sequence[Node]) -> list[Node]:
    """Placeholder input leaves for the tangents of `wrt` (unique names, so graphs nest)."""
    return [input_leaf(f"tangent:{next(_holder_ids)}", w.shape, w.dtype) for w in wrt]


def as_tangent(value, w: Node) -> Node:
    """`value` as a tangent node for `w`: numbers and arrays take w's dtype (they give a
    direction, not a precision, so a float32 graph's tangents stay float32)."""
    if isinstance(value, (np.ndarray, list, tuple)) and w.dtype in FLOAT_DTYPES:
        try:
            value = np.asarray(value, dtype=w.dtype)
        except (TypeError, ValueError) as error:
            raise GraphError(
                f"{w.site}: the tangent for {w.name or w.op} is not a {w.dtype} array: {error}"
            ) from None
    return lift(value, w)


def _tangent_terms(node: Node, tangents: dict[int, Node]) -> list[Node]:
    """The contribution of each input's tangent to `node`'s tangent, before summing."""
    opdef = get(node.op)
    if opdef.leaf or opdef.nondiff:
        return []
    terms = []
    for i, x in enumerate(node.inputs):
        t = tangents.get(x.id)
        if t is None:
            continue
        if opdef.jvp == MULTILINEAR:
            args = list(node.inputs)
            args[i] = t
            term = node.with_inputs(args)
        elif opdef.jvp[i] is None:
            continue
        else:
            term = opdef.jvp[i](t, node)
        terms.append(fit_to(term, node))
    return terms


def jvp(
    outputs: Node | Sequence[Node], wrt: Node | Sequence[Node], tangents: Node | Sequence
) -> list[Node]:
    """Nodes for sum_i d outputs[k] / d wrt[i] . tangents[i], one per output.

    Tangents are nodes, arrays or numbers shaped like (or broadcastable to) their `wrt`.
    An output that does not depend on `wrt` gets zeros of its shape.
    """
    outs, targets = as_list(outputs), as_list(wrt)
    seeds = (
        [tangents]
        if isinstance(tangents, (Node, np.ndarray, float, int, np.number))
        else list(tangents)
    )
    if len(seeds) != len(targets):
        raise GraphError(f"jvp: {len(targets)} wrt nodes but {len(seeds)} tangents")
    check_gradient_args(None, targets)
    seed_of: dict[int, Node] = {}
    for w, t in zip(targets, seeds):
        t = as_tangent(t, w)
        try:
            t = fit_to(t, w)
        except GraphError as error:
            raise GraphError(
                f"{w.site}: the tangent for {w.name or w.op} has shape "
                f"{t.shape}, not {w.shape}: {error}"
            ) from None
        seed_of[w.id] = seed_of[w.id] + t if w.id in seed_of else t
    order = topological_order(outs)
    live = depends_on(order, targets)
    tangent: dict[int, Node] = {}
    for node in order:
        if node.id not in live:
            continue
        with site_as(node.site):  # a rule's nodes cite the line that built `node`
            terms = _tangent_terms(node, tangent)
            if node.id in seed_of:
                terms.append(seed_of[node.id])
            if terms:
                total = terms[0]
                for term in terms[1:]:
                    total = total + term
                tangent[node.id] = total
    return [tangent[o.id] if o.id in tangent else zeros_like(o) for o in outs]


def concrete_shape(
    node: Node, values: Mapping | None = None, shapes: Mapping | None = None
) -> tuple[int, ...]:
    """`node`'s static shape with batch dimensions (None) filled from `values` or `shapes`
    (by leaf name; an inner node's shape is read off its value, computed from `values`)."""
    if None not in node.shape:
        return node.shape
    known = None
    if shapes is not None and node.name in shapes:
        known = tuple(shapes[node.name])
    elif values is not None and node.name in values:
        known = np.shape(values[node.name])
    elif values is not None and not node.is_leaf:
        known = np.shape(evaluate(node, values))
    if (
        known is None
        or len(known) != node.ndim
        or any(s is not None and s != k for s, k in zip(node.shape, known))
    ):
        got = "" if known is None else f" (got {known})"
        raise GraphError(
            f"{node.site}: {node.op} {node.name!r} has the batch shape "
            f"{node.shape}; give its concrete shape with values= or shapes= "
            f"keyed by {node.name!r}{got}"
        )
    return tuple(int(k) for k in known)


def pin_batch(
    outputs: Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    fill: bool = True,
) -> list[Node]:
    """`outputs` rebuilt with every batch-shaped input fixed to its concrete shape (from
    `values` or `shapes`; with `fill`, an input given neither takes the batch size the
    others agree on; without, a missing one leaves the graph as it is).

    Forward mode's basis tangents are concrete arrays; they may only meet concrete shapes,
    since the batch dimension never broadcasts against a fixed size."""
    batched = [leaf for leaf in leaves(outputs, "input") if None in leaf.shape]
    if not batched:
        return list(outputs)
    known: dict[str, tuple] = {}
    for leaf in batched:
        if (shapes is not None and leaf.name in shapes) or (values and leaf.name in values):
            known[leaf.name] = concrete_shape(leaf, values, shapes)
    sizes = {
        k for leaf in batched if leaf.name in known
        for k, d in zip(known[leaf.name], leaf.shape) if d is None
    }  # fmt: skip
    mapping = {}
    for leaf in batched:
        if fill and leaf.name not in known and len(sizes) == 1:
            known[leaf.name] = tuple(sizes.copy().pop() if d is None else d for d in leaf.shape)
        if leaf.name not in known and not fill:
            return list(outputs)  # the caller reports the missing shape, with its own advice
        shape = known.get(leaf.name) or concrete_shape(leaf, values, shapes)  # raises: unknown
        mapping[leaf] = input_leaf(leaf.name, shape, leaf.dtype)
    return substitute(list(outputs), mapping)


def _basis(shapes: Sequence[tuple], dtypes: Sequence[str]):
    """Yield (position, element index, basis tangents): one unit tangent per element."""
    for k, shape in enumerate(shapes):
        for index in np.ndindex(*shape):
            tangents = [np.zeros(s, dtype=d) for s, d in zip(shapes, dtypes)]
            tangents[k][index] = 1.0
            yield k, index, tangents


def forward_jvp_count(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
) -> int:
    """How many JVPs a forward-mode gradient of `y` needs: one per element of `wrt`."""
    return sum(int(np.prod(concrete_shape(w, values, shapes), dtype=int)) for w in as_list(wrt))


def forward_gradient_graph(
    y: Node,
    wrt: Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    max_nodes: int = MAX_NODES,
) -> list[Node]:
    """The gradient of scalar `y` as graph nodes built from one tangent graph per element.

    The tangent graph is built once with placeholder tangents, then copied with each basis
    tangent substituted, so the primal graph is shared and only the tangent part repeats.
    """
    check_gradient_args(y, wrt)
    sizes = [concrete_shape(w, values, shapes) for w in wrt]
    if any(None in w.shape for w in wrt):  # concrete basis tangents meet the batch axis
        y, *wrt = pin_batch([y, *wrt], values, shapes)
    holders = tangent_holders(wrt)
    (template,) = jvp([y], wrt, holders)
    primal = {n.id for n in topological_order(y)}
    per_tangent = sum(n.id not in primal for n in topological_order(template)) + 3
    columns = sum(int(np.prod(s, dtype=object)) for s in sizes)
    if columns * per_tangent > max_nodes:
        raise GraphError(
            f"forward mode would build about {columns * per_tangent:,} nodes ({columns:,} "
            f"tangent graphs of {per_tangent:,} nodes, one per element of wrt), above "
            f"max_nodes={max_nodes:,}; raise max_nodes= to allow it, or use reverse mode"
        )
    grads: list[Node | None] = [None] * len(wrt)
    for k, index, tangents in _basis(sizes, [w.dtype for w in wrt]):
        (column,) = substitute([template], {h: const(t) for h, t in zip(holders, tangents)})
        unit = np.zeros(sizes[k], dtype=wrt[k].dtype)
        unit[index] = 1.0
        term = column * const(unit)
        grads[k] = term if grads[k] is None else grads[k] + term
    return [g if g is not None else zeros_like(w) for g, w in zip(grads, wrt)]


@dataclass
class ForwardGradient:
    """A gradient computed in forward mode, with what it cost."""

    gradients: list[np.ndarray]
    jvp_evaluations: int  # graph evaluations made: one per element of wrt
    graph_ops: int  # nodes in the JVP graph evaluated each time
    seconds: float


def forward_gradient(
    y: Node, wrt: Node | Sequence[Node], values: Mapping, training: bool = False
) -> ForwardGradient:
    """Evaluate the gradient of scalar `y` by one JVP evaluation per element of `wrt`."""
    targets = as_list(wrt)
    check_gradient_args(y, targets)
    start = time.perf_counter()
    shapes = [concrete_shape(w, values) for w in targets]
    holders = tangent_holders(targets)
    (tangent,) = jvp([y], targets, holders)
    grads = [np.zeros(s, dtype=w.dtype) for s, w in zip(shapes, targets)]
    count = 0
    for k, index, tangents in _basis(shapes, [w.dtype for w in targets]):
        feed = dict(values) | {h.name: t for h, t in zip(holders, tangents)}
        grads[k][index] = evaluate(tangent, feed, training=training)
        count += 1
    return ForwardGradient(
        grads, count, len(topological_order(tangent)), time.perf_counter() - start
    )
