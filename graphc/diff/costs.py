"""`gc.cost_table`: FLOPs and bytes of a graph and of its gradient graph, before anything runs.

The counting is `passes.cost` (any graph); this module adds the gradient graph, the
optimized graph of the loss and its gradients that one training step evaluates, so the
cheap-gradient ratio (gradient FLOPs / forward FLOPs) can be read off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import GraphError
from ..ir import Node, as_list, leaves, topological_order
from ..passes.cost import CostTable, cost_rows, prepare
from ..passes.pipeline import optimize
from .reverse import gradient_graph


def cost_table(
    outputs: Node | Iterable[Node],
    shapes: Mapping[str, Any] | None = None,
    batch: int | None = None,
    wrt: Sequence[Node] | None = None,
    gradient: bool | None = None,
    optimized: bool = True,
    training: bool = False,
) -> CostTable:
    """FLOPs and bytes per node at the given input shapes (or values), None dims set to
    `batch` (by default, the size a given shape puts there). For a scalar loss, also the
    gradient graph with respect to `wrt` (default: every param). Both graphs are optimized
    first (as lowering does) unless `optimized=False`."""
    outputs, shapes, batch = prepare(outputs, shapes, batch, training)
    if gradient is None:
        gradient = len(outputs) == 1 and outputs[0].shape == ()
    forward = cost_rows(optimize(outputs).outputs if optimized else outputs, shapes, batch)
    totals = [sum(r[k] for r in forward) for k in ("flops", "bytes")]
    if not gradient:
        return CostTable(forward, *totals, None, None)
    if len(outputs) != 1 or outputs[0].shape != ():
        raise GraphError("cost_table: the gradient needs one scalar output (a loss)")
    targets = list(wrt) if wrt is not None else leaves(outputs, "param")
    step = [outputs[0], *as_list(gradient_graph(outputs[0], targets))]
    if optimized:
        step = optimize(step).outputs
    rows = cost_rows(step, shapes, batch, {n.id for n in topological_order(step[0])})
    flops, moved = sum(r["flops"] for r in rows), sum(r["bytes"] for r in rows)
    return CostTable(rows, *totals, flops, moved)
