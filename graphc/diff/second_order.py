"""Higher order: Hessian-vector products and full Hessians, built from the first-order modes.

Because every derivative is an ordinary graph, differentiating twice needs no new rules:

* reverse over reverse: the gradient g = grad(y), then the gradient of <g, v>;
* forward over reverse: the gradient g = grad(y), then the JVP of g along v.

`hessian(y, wrt, values)` builds the HVP graph once with the vector as an input leaf and
evaluates it once per basis vector, giving the Hessian as an (n, n) array over the
flattened, concatenated elements of `wrt`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node, as_list
from ..ops.reductions import sum as reduce_sum
from .forward import as_tangent, concrete_shape, jvp, tangent_holders
from .reverse import fit_to, gradient_graph

HVP_MODES = ("reverse", "forward")
MAX_ENTRIES = 25_000_000  # 200 MB of float64: a 5,000-element wrt


def hvp(y: Node, wrt: Node | Sequence[Node], vectors, mode: str = "reverse"):
    """Nodes for the Hessian of scalar `y` times `vectors`, one per `wrt` node.

    mode="reverse" differentiates <grad y, v> again in reverse mode (reverse over
    reverse); mode="forward" pushes v through the gradient graph (forward over reverse).
    One node in `wrt` gives one node back; a list gives a list.
    """
    targets = as_list(wrt)
    vs = [vectors] if isinstance(wrt, Node) else list(vectors)
    if len(vs) != len(targets):
        raise GraphError(f"hvp: {len(targets)} wrt nodes but {len(vs)} vectors")
    vs = [fit_to(as_tangent(v, w), w) for v, w in zip(vs, targets)]
    grads = gradient_graph(y, targets)
    if mode == "reverse":
        inner = None
        for g, v in zip(grads, vs):
            term = reduce_sum(g * v)
            inner = term if inner is None else inner + term
        result = gradient_graph(inner, targets)
    elif mode == "forward":
        result = jvp(grads, targets, vs)
    else:
        raise GraphError(f"unknown hvp mode {mode!r}; use {' or '.join(map(repr, HVP_MODES))}")
    return result[0] if isinstance(wrt, Node) else result


def hessian(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping,
    mode: str = "reverse",
    training: bool = False,
    max_entries: int = MAX_ENTRIES,
) -> np.ndarray:
    """The full Hessian of scalar `y` as an (n, n) array, n = total elements of `wrt`.

    Rows and columns follow the elements of each `wrt` node in order, each flattened in
    C order. One HVP evaluation per column, so this is for small graphs: above
    `max_entries` entries it refuses with the size before allocating anything.
    """
    targets = as_list(wrt)
    shapes = [concrete_shape(w, values) for w in targets]
    sizes = [int(np.prod(s, dtype=int)) for s in shapes]
    n = sum(sizes)
    if n * n > max_entries:
        raise GraphError(
            f"gc.hessian: the Hessian would be {n:,} x {n:,} ({n * n:.1e} entries, "
            f"{n * n * 8 / 2**30:,.1f} GiB, {n:,} Hessian-vector products), above "
            f"max_entries={max_entries:,}; raise max_entries= to allow it, or use gc.hvp "
            "for a few directions"
        )
    holders = tangent_holders(targets)
    products = hvp(y, targets, holders, mode=mode)
    n = sum(sizes)
    out = np.zeros((n, n))
    offsets = np.cumsum([0] + sizes)
    for column in range(n):
        flat = np.zeros(n)
        flat[column] = 1.0
        feed = dict(values) | {
            h.name: flat[a:b].reshape(s)
            for h, a, b, s in zip(holders, offsets[:-1], offsets[1:], shapes)
        }
        parts = evaluate(products, feed, training=training)
        out[:, column] = np.concatenate([np.ravel(p) for p in parts])
    return out
