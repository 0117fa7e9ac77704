"""Checks on the arrays fed to a graph, made where data enters (gc.evaluate, gc.lower's
functions, the trainer, data(), .npz files), never inside a compiled step: each check has
one definition here, and every entry point calls it.

- `as_array`: an array of the leaf's dtype, refusing what a cast would change silently
  (complex, text, masked arrays, fractions or out-of-range values for an int, a float too
  large for float32);
- `check_class_ids`: class ids in range; `batch_size`: one batch size, not empty;
- `check_batch_statistics` and `check_minibatches`: batch norm in training mode sees at
  least 2 rows, also in the last minibatch of an epoch;
- `check_run`, `check_training`, `check_seed`: the arguments of a run.

A wrong class id would otherwise pick an all-zero one-hot row: a zero-loss row that still
counts in the mean, with no message. Generated code relies on these checks: its softmax
cross-entropy backward takes every one-hot row to hold one 1 (ops/fused.py, _xent_parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .errors import GraphError, ShapeError
from .ir import Node, topological_order


def class_counts(outputs: Node | Iterable[Node]) -> dict[str, int]:
    """Integer inputs that pick one_hot rows (class ids, as softmax_cross_entropy takes
    them), by name, with their number of classes."""
    return _class_counts_in(topological_order(outputs))


def _class_counts_in(order: Iterable[Node]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in order:
        if node.op != "one_hot":
            continue
        labels, depth = node.inputs[0], node.attrs["depth"]
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


def uses_batch_statistics(order: Iterable[Node]) -> bool:
    """Whether a graph (in training mode) normalizes by batch statistics (batch norm)."""
    return any(n.op == "update_state" for n in order)


def check_batch_statistics(rows: int | None, what: str) -> None:
    """Refuse one row for batch norm in training mode (PyTorch refuses it too)."""
    if rows == 1:
        raise ShapeError(
            f"{what}: batch norm in training mode needs at least 2 rows: on one row every "
            "feature normalizes to 0, so the output is beta and the gradients are zero"
        )


def check_minibatches(rows: int, batch_size: int, what: str) -> None:
    """Refuse minibatches of `batch_size` over `rows` rows of which one holds a single row,
    for a model that uses batch statistics in training."""
    if rows < 2:
        check_batch_statistics(rows, what)
    if batch_size == 1 or rows % batch_size == 1:
        fits = [b for b in (batch_size - 1, batch_size + 1, 2, rows) if b > 1 and rows % b != 1]
        last = "every minibatch holds" if batch_size == 1 else "leave a last minibatch of"
        raise ShapeError(
            f"{what}: {rows} rows in minibatches of {batch_size} {last} 1 row, and batch norm "
            "in training mode needs at least 2 rows (on one row the gradients are zero); use "
            f"another batch size, e.g. {fits[0]}, or drop a row"
        )


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
    for name, count in classes.items():
        if name in arrays:
            check_class_ids(arrays[name], count, f"the input {name!r}")
    if training and uses_batch_statistics(order):
        check_batch_statistics(size, what)
    return size


def as_array(value: object, dtype: str, what: str) -> np.ndarray:
    """`value` as an array of `dtype`, refusing what the conversion would change without a
    word: complex numbers, text or objects, a masked array (NumPy drops its mask),
    fractions or out-of-range numbers for an integer dtype, and finite numbers that become
    infinite in a narrower float (1e300 in float32). Checked only when a cast happens."""
    if isinstance(value, np.ma.MaskedArray):
        raise ShapeError(
            f"{what} is a masked array; NumPy would drop its mask and compute with the "
            "hidden entries: fill them (array.filled(value)) or drop those rows first"
        )
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ShapeError(f"{what} is not a {dtype} array: {error}") from None
    if raw.dtype == dtype:
        return raw
    problem = _cast_problem(raw, np.dtype(dtype))
    if problem:
        raise ShapeError(f"{what} is not a {dtype} array: {problem}")
    return raw.astype(dtype)


def _cast_problem(raw: np.ndarray, dtype: np.dtype) -> str | None:
    """Why casting `raw` to `dtype` would lose or invent values, or None."""
    if raw.dtype.kind == "c":
        return "complex numbers are not supported"
    if raw.dtype.kind not in "fiub":
        return f"it holds {raw.dtype} values"
    if not raw.size:
        return None
    if dtype.kind in "iu":
        if raw.dtype.kind == "f":
            whole = np.isfinite(raw) & (np.floor(raw) == raw)
            if not np.all(whole):
                return f"{raw[~whole].flat[0]!r} is not a whole number"
        info = np.iinfo(dtype)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            return f"{bad!r} is outside the range of {dtype} ({info.min}..{info.max})"
    elif dtype.kind == "f" and raw.dtype.kind in "fiu" and raw.dtype.itemsize > dtype.itemsize:
        largest = np.finfo(dtype).max
        finite = raw[np.isfinite(raw)] if raw.dtype.kind == "f" else raw
        if finite.size and np.max(np.abs(finite)) > largest:
            bad = finite[np.abs(finite) > largest].flat[0]
            return f"{bad!r} is beyond the largest {dtype} ({largest:.3g}) and would become inf"
    return None


def positive_int(value: object, what: str) -> int:
    """`value` if it is an int >= 1 (not a bool), else a GraphError naming `what`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise GraphError(f"{what} must be a positive int, got {value!r}")
    if value < 1:
        raise GraphError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def check_run(epochs: int, batch_size: int, lr: float | None = None) -> None:
    """Refuse epochs or a batch size that is not a positive int, or a learning rate that is
    not a positive finite number."""
    positive_int(epochs, "the epochs")
    positive_int(batch_size, "the batch size")
    if lr is not None and not (isinstance(lr, (int, float)) and 0 < lr < float("inf")):
        raise GraphError(f"the learning rate must be positive and finite, got {lr!r}")


def check_training(training: object, where: str) -> bool:
    """`training` as a bool; anything but True/False (a string such as "no" is truthy) is
    refused."""
    if isinstance(training, (bool, np.bool_)):
        return bool(training)
    raise GraphError(
        f"{where}: training must be True (batch statistics, dropout) or False (inference), "
        f"got {training!r}"
    )


def check_seed(seed: object, where: str) -> int:
    """`seed` as a non-negative int (what NumPy's generators take)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GraphError(f"{where}: seed must be a non-negative int, got {seed!r}")
    return int(seed)


def real_number(value: object, where: str) -> float:
    """`value` as a finite float (an int or float, not a bool, NaN, infinity or text)."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
    ):
        raise GraphError(f"{where} must be a finite number, got {value!r}")
    return float(value)
