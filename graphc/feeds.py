"""Where data enters a graph (gc.evaluate, gc.lower's functions, the trainer, data(), .npz
files), never inside a compiled step: which checks of checks.py a graph needs (the inputs
holding class ids, the rows its ops need in training mode) and the one batch size of the
arrays fed together.

Generated code relies on these checks: its softmax cross-entropy backward takes every
one-hot row to hold one 1 (ops/fused.py, _xent_parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .checks import ClassIdError, check_class_ids, check_min_batch
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
        picked = picks(node) if picks is not None else None
        if picked is None:
            continue
        labels, depth = picked
        if labels.op == "input":
            counts[labels.name] = min(depth, counts.get(labels.name, depth))
    return counts


def batch_size(leaves: Iterable[Node], arrays: Mapping[str, np.ndarray], what: str) -> int | None:
    """The one batch size of the arrays fed to batch-shaped inputs (None if no input has a
    batch dimension); refuse arrays that disagree (every None axis is the batch) or an
    empty batch."""
    sizes: dict[str, int] = {}  # by input name, or "name.shape[k]" for several None axes
    for leaf in leaves:
        if leaf.op == "input" and leaf.name in arrays:
            shape = np.shape(arrays[leaf.name])
            axes = [k for k, d in enumerate(leaf.shape) if d is None and k < len(shape)]
            for k in axes:
                sizes[leaf.name if len(axes) == 1 else f"{leaf.name}.shape[{k}]"] = shape[k]
    if not sizes:
        return None
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in sorted(sizes.items()))
        raise ShapeError(
            f"{what}: the arrays fed together must have the same batch size, but {listed} rows"
        )
    size = next(iter(sizes.values()))
    if size == 0:
        raise ShapeError(f"{what}: the batch is empty ({', '.join(sorted(sizes))} have 0 rows)")
    return size


def check_ids(array, count: int, what: str, site: str) -> None:
    """checks.check_class_ids, naming where the input holding the ids was declared."""
    try:
        check_class_ids(array, count, what)
    except ClassIdError as error:
        raise ClassIdError(f"{error}; the input is declared at {site}") from None


def min_batch(order: Iterable[Node]) -> tuple[int, str] | None:
    """The most rows a graph's ops need in training mode (`OpDef.min_batch`: batch norm's
    2), with why; None when any batch will do."""
    return max((need for n in order if (need := get(n.op).min_batch) is not None), default=None)


def check_feed(
    order: list[Node], env: Mapping[int, np.ndarray], training: bool, what: str = "gc.evaluate"
) -> int | None:
    """Check the leaf arrays of one evaluation (`env` by node id) before any op runs (one
    walk over `order`; nothing is cached, so no graph outlives its evaluation); the batch
    size (None without a batch dimension)."""
    inputs = [n for n in order if n.op == "input"]
    classes = _class_counts_in(order)
    arrays = {n.name: env[n.id] for n in inputs}
    size = batch_size(inputs, arrays, what)
    sites = {n.name: n.site for n in inputs}
    for name, count in classes.items():
        if name in arrays:
            check_ids(arrays[name], count, f"the input {name!r}", sites[name])
    if training:
        check_min_batch(size, min_batch(order), what)
    return size
