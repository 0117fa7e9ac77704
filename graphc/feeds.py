"""Checks on the arrays fed to a graph, made where data enters (gc.evaluate, data(), .npz
files), never inside a compiled step: class ids in range, one batch size, no empty batch.

A wrong class id would otherwise pick an all-zero one-hot row: a zero-loss row that still
counts in the mean, with no message. Generated code relies on these checks: its softmax
cross-entropy backward takes every one-hot row to hold one 1 (ops/fused.py, _xent_parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .errors import ShapeError
from .ir import Node, topological_order
from .ops.registry import get


def class_counts(outputs: Node | Iterable[Node]) -> dict[str, int]:
    """Integer inputs that pick rows by class id (one_hot's labels, as softmax_cross_entropy
    takes them; `OpDef.class_ids`), by name, with their number of classes."""
    return _class_counts_in(topological_order(outputs))


def _class_counts_in(order: Iterable[Node]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in order:
        picks = get(node.op).class_ids
        if picks is None:
            continue
        labels, depth = picks(node)
        if labels.op == "input":
            counts[labels.name] = min(depth, counts.get(labels.name, depth))
    return counts


class ClassIdError(ShapeError):
    """A class id outside 0 .. classes - 1, or a label that is not a whole number."""


def check_class_ids(array: np.ndarray, classes: int, what: str) -> None:
    """Refuse class ids outside 0 .. classes - 1 (the one-hot row would be all zeros)."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.size and not np.all(np.floor(array) == array):
        bad = array[np.floor(array) != array].flat[0]
        raise ClassIdError(f"{what} holds {bad!r}; class ids must be whole numbers")
    if array.size == 0 or array.dtype.kind not in "iuf":
        return
    low, high = array.min(), array.max()
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise ClassIdError(
            f"{what} holds the class id {bad}, outside 0..{classes - 1} "
            f"(the model has {classes} classes)"
        )


def batch_size(leaves: Iterable[Node], arrays: Mapping[str, np.ndarray], what: str) -> int | None:
    """The one batch size of the arrays fed to batch-shaped inputs (None if no input has a
    batch dimension); refuse arrays that disagree or an empty batch."""
    sizes: dict[str, int] = {}
    for leaf in leaves:
        if leaf.op == "input" and leaf.name in arrays:
            shape = np.shape(arrays[leaf.name])
            for axis, d in enumerate(leaf.shape):
                if d is None and axis < len(shape):
                    sizes[leaf.name] = shape[axis]
                    break
    if not sizes:
        return None
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in sizes.items())
        raise ShapeError(
            f"{what}: the arrays fed together must have the same batch size, but {listed} rows"
        )
    size = next(iter(sizes.values()))
    if size == 0:
        raise ShapeError(f"{what}: the batch is empty ({', '.join(sizes)} have 0 rows)")
    return size


def check_feed(order: list[Node], env: Mapping[int, np.ndarray], training: bool) -> None:
    """Check the leaf arrays of one evaluation (`env` by node id) before any op runs (one
    walk over `order`; nothing is cached, so no graph outlives its evaluation)."""
    inputs = [n for n in order if n.op == "input"]
    classes = _class_counts_in(order)
    needs = [need for n in order if (need := get(n.op).min_batch) is not None]
    arrays = {n.name: env[n.id] for n in inputs}
    size = batch_size(inputs, arrays, "gc.evaluate")
    for name, count in classes.items():
        if name in arrays:
            check_class_ids(arrays[name], count, f"the input {name!r}")
    if training and needs and size is not None:
        rows, why = max(needs)
        if size < rows:
            raise ShapeError(why)
