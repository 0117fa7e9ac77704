"""A cost table: FLOPs and bytes moved per node at given shapes, before anything runs.

Counting follows the cheap-gradient principle's convention: one operation per element for
each arithmetic op, comparison, select or elementary function (exp, log, tanh ... count 1);
composite ops count their decomposition (softmax: max, subtract, exp, sum, divide = 5 per
element); a matrix product counts 2*m*k*n. Bytes are the input arrays read plus the output
written; views (transpose, reshape, expand_dims, broadcast_like) and leaves move nothing.

`cost_table(loss, shapes, batch=...)` totals the forward graph and the gradient graph (the
optimized graph of the loss and its gradients, what one training step evaluates), so the
ratio gradient FLOPs / forward FLOPs can be read off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GraphError, ShapeError
from ..ir import Node, as_list, topological_order
from ..ops.layers import specialize
from ..ops.leaves import input as input_leaf
from ..ops.registry import get

# FLOPs per output element (default 1 for an op not listed; 0 for views and bookkeeping)
PER_ELEMENT = {
    "softmax": 5,
    "log_softmax": 5,
    "sigmoid": 4,
    "softplus": 3,
    "prelu": 2,
    "dropout_mask": 2,
    "softmax_xent_grad": 7,
    "prelu_vjp_x": 3,
    "broadcast_like": 0,
    "transpose": 0,
    "reshape": 0,
    "expand_dims": 0,
    "index_last": 0,
    "axis_size": 0,
    "update_state": 0,
    "select_mode": 0,
}
VIEWS = frozenset(
    {
        "broadcast_like",
        "transpose",
        "reshape",
        "expand_dims",
        "index_last",
        "axis_size",
        "update_state",
        "select_mode",
    }
)
# FLOPs per *input* element, for reductions
PER_INPUT_ELEMENT = {
    "sum": 1,
    "sum_to": 1,
    "logsumexp": 4,
    "prelu_vjp_alpha": 4,
    "target_log_prob": 4,
}


def node_flops(node: Node) -> int:
    """FLOPs of one node whose shape is fully known."""
    if node.is_leaf:
        return 0
    if node.op == "matmul":
        a, b = node.inputs
        return 2 * int(np.prod(node.shape, dtype=np.int64)) * a.shape[-1]
    if node.attrs.get("log_probs"):  # on a shared log_softmax: no normalization of its own
        per = {"target_log_prob": 1, "softmax_xent_grad": 3}[node.op]  # a pick; exp, sub, mul
        return per * int(np.prod(node.shape, dtype=np.int64))
    if node.op in PER_INPUT_ELEMENT:
        shapes = [x.shape for x in node.inputs]
        if node.op == "prelu_vjp_alpha":  # x and g broadcast before the sum
            shapes = [np.broadcast_shapes(*shapes)]
        return PER_INPUT_ELEMENT[node.op] * max(int(np.prod(s, dtype=np.int64)) for s in shapes)
    return PER_ELEMENT.get(node.op, 1) * int(np.prod(node.shape, dtype=np.int64))


def node_bytes(node: Node) -> int:
    """Bytes one node reads and writes (zero for views and leaves)."""
    if node.is_leaf or node.op in VIEWS:
        return 0
    arrays = list(node.inputs) + [node]
    return sum(int(np.prod(a.shape, dtype=np.int64)) * np.dtype(a.dtype).itemsize for a in arrays)


def _given_shape(leaf: Node, given: Any) -> tuple:
    """The concrete shape given for `leaf` (a shape, or a value to read one off)."""
    shape = tuple(given) if isinstance(given, (tuple, list)) else tuple(np.shape(given))
    if not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise ShapeError(
            f"cost_table: shape {shape} given for {leaf.op} {leaf.name!r} must "
            f"hold positive ints ({leaf.site})"
        )
    return shape


def _concrete_shape(leaf: Node, shapes: Mapping[str, Any], batch: int | None) -> tuple:
    given = shapes.get(leaf.name)
    if given is not None:
        shape = _given_shape(leaf, given)
        if len(shape) != leaf.ndim or any(
            s is not None and s != d for s, d in zip(leaf.shape, shape)
        ):
            raise ShapeError(
                f"cost_table: shape {shape} given for {leaf.op} {leaf.name!r} does "
                f"not fit its declared shape {leaf.shape} ({leaf.site})"
            )
        return shape
    if None in leaf.shape and batch is None:
        raise GraphError(
            f"cost_table: {leaf.op} {leaf.name!r} {leaf.shape} has a batch "
            f"dimension; give batch=... or its shape ({leaf.site})"
        )
    return tuple(batch if d is None else d for d in leaf.shape)


def _batch_of(outputs: Sequence[Node], shapes: Mapping[str, Any]) -> int | None:
    """The batch size that a given shape (or value) fixes for a None dimension, if any."""
    for leaf in topological_order(outputs):
        if leaf.op == "input" and leaf.name in shapes and None in leaf.shape:
            shape = _given_shape(leaf, shapes[leaf.name])
            if len(shape) == leaf.ndim:
                return int(shape[leaf.shape.index(None)])
    return None


def concrete(
    outputs: Sequence[Node], shapes: Mapping[str, Any], batch: int | None
) -> dict[int, Node]:
    """Each node of the graph rebuilt with fully known shapes (None dims resolved), by id."""
    env: dict[int, Node] = {}
    for node in topological_order(outputs):
        if node.is_leaf:
            shape = _concrete_shape(node, shapes, batch) if node.op != "const" else node.shape
            env[node.id] = node if shape == node.shape else input_leaf(node.name, shape, node.dtype)
        else:
            env[node.id] = node.with_inputs([env[i.id] for i in node.inputs])
    return env


@dataclass
class CostTable:
    """Per-node costs and the forward / gradient totals. With a gradient, the rows are those
    of the gradient graph, each marked "forward" (the loss needs it) or "backward"."""

    rows: list[dict]
    forward_flops: int
    forward_bytes: int
    gradient_flops: int | None
    gradient_bytes: int | None

    @property
    def ratio(self) -> float | None:
        """Gradient-graph FLOPs / forward FLOPs (the cheap-gradient ratio)."""
        if self.gradient_flops is None or not self.forward_flops:
            return None
        return self.gradient_flops / self.forward_flops

    @property
    def backward_flops(self) -> int | None:
        """FLOPs of the gradient graph's nodes that the forward graph does not have."""
        if self.gradient_flops is None:
            return None
        return sum(r["flops"] for r in self.rows if r["part"] == "backward")

    def by_op(self) -> dict[str, dict[str, int]]:
        """FLOPs and bytes summed per op, biggest first."""
        totals: dict[str, dict[str, int]] = {}
        for r in self.rows:
            entry = totals.setdefault(r["op"], {"flops": 0, "bytes": 0, "nodes": 0})
            entry["flops"] += r["flops"]
            entry["bytes"] += r["bytes"]
            entry["nodes"] += 1
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1]["flops"], -kv[1]["bytes"])))

    def to_dict(self) -> dict:
        """JSON-ready: rows, totals and per-op sums."""
        return {
            "rows": self.rows,
            "forward_flops": self.forward_flops,
            "forward_bytes": self.forward_bytes,
            "gradient_flops": self.gradient_flops,
            "gradient_bytes": self.gradient_bytes,
            "backward_flops": self.backward_flops,
            "ratio": self.ratio,
            "by_op": self.by_op(),
        }

    def __str__(self) -> str:
        lines = [f"{'part':<9}{'op':<28}{'shape':<16}{'FLOPs':>14}{'bytes':>14}"]
        for r in self.rows:
            if r["flops"] or r["bytes"]:
                lines.append(
                    f"{r['part']:<9}{r['label'][:27]:<28}{str(r['shape']):<16}"
                    f"{r['flops']:>14,}{r['bytes']:>14,}"
                )
        lines.append(f"forward:  {self.forward_flops:,} FLOPs, {self.forward_bytes:,} bytes")
        if self.gradient_flops is not None:
            lines.append(
                f"gradient: {self.gradient_flops:,} FLOPs, {self.gradient_bytes:,} "
                f"bytes (loss and gradients together)"
            )
            lines.append(f"cheap-gradient ratio (gradient / forward FLOPs): {self.ratio:.2f}")
        return "\n".join(lines)


def _rows(graph: Sequence[Node], shapes, batch, forward: set[int] | None) -> list[dict]:
    env = concrete(graph, shapes, batch)
    rows = []
    for node in topological_order(graph):
        part = "forward" if forward is None or node.id in forward else "backward"
        sized = env[node.id]
        rows.append(
            {
                "id": node.id,
                "op": node.op,
                "label": get(node.op).display(node),
                "name": node.name,
                "shape": sized.shape,
                "dtype": node.dtype,
                "flops": node_flops(sized),
                "bytes": node_bytes(sized),
                "part": part,
            }
        )
    return rows


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
    from ..diff import grad
    from ..evaluate import params
    from .pipeline import optimize

    outputs = specialize(as_list(outputs), training)
    shapes = dict(shapes or {})
    names = {leaf.name for leaf in topological_order(outputs) if leaf.op == "input"}
    unknown = sorted(set(shapes) - names)
    if unknown:
        raise GraphError(
            f"cost_table: no input named {', '.join(map(repr, unknown))}; the "
            f"graph's inputs are {', '.join(sorted(names)) or 'none'}"
        )
    if batch is not None and (
        not isinstance(batch, (int, np.integer)) or isinstance(batch, bool) or batch < 1
    ):
        raise GraphError(f"cost_table: batch must be a positive int, got {batch!r}")
    if batch is None:
        batch = _batch_of(outputs, shapes)
    if gradient is None:
        gradient = len(outputs) == 1 and outputs[0].shape == ()
    forward = _rows(optimize(outputs).outputs if optimized else outputs, shapes, batch, None)
    totals = [sum(r[k] for r in forward) for k in ("flops", "bytes")]
    if not gradient:
        return CostTable(forward, *totals, None, None)
    if len(outputs) != 1 or outputs[0].shape != ():
        raise GraphError("cost_table: the gradient needs one scalar output (a loss)")
    targets = list(wrt) if wrt is not None else params(outputs)
    step = [outputs[0], *as_list(grad(outputs[0], targets))]
    if optimized:
        step = optimize(step).outputs
    rows = _rows(step, shapes, batch, {n.id for n in topological_order(step[0])})
    flops, moved = sum(r["flops"] for r in rows), sum(r["bytes"] for r in rows)
    return CostTable(rows, *totals, flops, moved)
