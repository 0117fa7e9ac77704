"""A cost table: FLOPs and bytes moved per node at given shapes, before anything runs.

Counting follows the cheap-gradient principle's convention: one operation per element for
each arithmetic op, comparison, select or elementary function (exp, log, tanh ... count 1);
composite ops count their decomposition (softmax: max, subtract, exp, sum, divide = 5 per
element); a matrix product counts 2*m*k*n. Each op says its count (`OpDef.flops`). Bytes
are the input arrays read plus the output written; views (`OpDef.view`: transpose, reshape,
expand_dims, broadcast_like) and leaves move nothing.

`cost_table(loss, shapes, batch=...)` (in `graphc.diff.costs`, as it differentiates) totals
the forward graph and the gradient graph; this module costs any graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GraphError, ShapeError
from ..ir import Node, as_list, rebuild, topological_order
from ..ops.leaves import input as input_leaf
from ..ops.registry import get, size
from ..table import text_table
from .specialization import specialize


def node_flops(node: Node) -> int:
    """FLOPs of one node whose shape is fully known."""
    if node.is_leaf:
        return 0
    flops = get(node.op).flops
    return flops(node) if callable(flops) else flops * size(node.shape)


def node_bytes(node: Node) -> int:
    """Bytes one node reads and writes (zero for views and leaves)."""
    if node.is_leaf or get(node.op).view:
        return 0
    arrays = list(node.inputs) + [node]
    return sum(size(a.shape) * np.dtype(a.dtype).itemsize for a in arrays)


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

    def visit(old: Node, new: Node) -> Node:
        if old.is_leaf and old.op != "const":
            shape = _concrete_shape(old, shapes, batch)
            new = old if shape == old.shape else input_leaf(old.name, shape, old.dtype)
        env[old.id] = new
        return new

    rebuild(outputs, visit)
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
        rows = [("part", "op", "shape", "FLOPs", "bytes")] + [
            (r["part"], r["label"][:27], str(r["shape"]), f"{r['flops']:,}", f"{r['bytes']:,}")
            for r in self.rows
            if r["flops"] or r["bytes"]
        ]
        lines = text_table(rows, right=(3, 4))
        lines.append(f"forward:  {self.forward_flops:,} FLOPs, {self.forward_bytes:,} bytes")
        if self.gradient_flops is not None:
            lines.append(
                f"gradient: {self.gradient_flops:,} FLOPs, {self.gradient_bytes:,} "
                f"bytes (loss and gradients together)"
            )
            lines.append(f"cheap-gradient ratio (gradient / forward FLOPs): {self.ratio:.2f}")
        return "\n".join(lines)


def cost_rows(
    graph: Sequence[Node], shapes, batch: int | None, forward: set[int] | None = None
) -> list[dict]:
    """One row per node of `graph` at concrete shapes; with `forward` (node ids), each row is
    marked "forward" or "backward"."""
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


def prepare(
    outputs: Node | Iterable[Node],
    shapes: Mapping[str, Any] | None,
    batch: int | None,
    training: bool,
) -> tuple[list[Node], dict, int | None]:
    """The graph specialized for the mode, the checked shapes, and the batch size to use
    (by default, the size a given shape puts in a None dimension)."""
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
    return outputs, shapes, _batch_of(outputs, shapes) if batch is None else batch
