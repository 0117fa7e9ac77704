"""The checks on arrays and arguments, one definition each: NumPy and graphc/errors.py only,
so that gc.evaluate, gc.lower's functions, the trainer and the generated training modules
(which carry a copy of this file and of errors.py) refuse the same inputs in the same
words. feeds.py finds which of them a graph needs (its class ids, its ops' minimum batch).

- `as_array`: an array of a leaf's dtype, refusing what a cast would change silently
  (complex, text, masked arrays, fractions or out-of-range values for an int, a float too
  large for float32);
- `check_class_ids`: class ids in range (a wrong one picks an all-zero one-hot row: a
  zero-loss row that still counts in the mean);
- `check_min_batch` and `check_minibatches`: a batch holds the rows the graph's ops need in
  training mode (`OpDef.min_batch`: batch norm's 2), also an epoch's last minibatch;
- `check_run`, `positive_int`, `check_training`, `check_flag`, `check_seed`, `real_number`,
  `fraction`: arguments.
"""

import numpy as np

from .errors import ArgumentError, ShapeError


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
        # ids that pick rows of a table (ops.registry.Rows) are spoken of as rows
        noun, unit = getattr(classes, "noun", "class id"), getattr(classes, "unit", "classes")
        raise ClassIdError(
            f"{what} holds the {noun} {bad}, outside 0..{classes - 1} "
            f"(the model has {int(classes)} {unit})"
        )


def check_min_batch(rows: int | None, need: tuple[int, str] | None, what: str) -> None:
    """Refuse a batch of fewer rows than the graph's ops need in training mode."""
    if need is not None and rows is not None and rows < need[0]:
        raise ShapeError(f"{what}: {need[1]}")


def check_minibatches(rows: int, batch_size: int, need: tuple[int, str] | None, what: str) -> None:
    """Refuse minibatches of `batch_size` over `rows` rows of which one (the last of an
    epoch) holds fewer rows than the graph's ops need in training mode."""
    if need is None:
        return
    check_min_batch(rows, need, what)
    least = need[0]
    last = rows % batch_size or batch_size
    if batch_size < least or last < least:
        small = batch_size if batch_size < least else last
        which = "every minibatch holds" if batch_size < least else "leave a last minibatch of"
        raise ShapeError(
            f"{what}: {rows} rows in minibatches of {batch_size} {which} {_rows(small)}; "
            f"{need[1]}; use another batch size, e.g. {_batch_that_fits(rows, batch_size, least)}"
            f", or drop {_rows(last)}"
        )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _batch_that_fits(rows: int, batch_size: int, least: int) -> int:
    """The batch size nearest `batch_size` whose every minibatch holds `least` rows or more
    (`rows` itself always does)."""
    for delta in range(rows):
        for size in (batch_size - delta, batch_size + delta):
            if least <= size <= rows and (rows % size or size) >= least:
                return size
    return rows


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
        raise ShapeError(f"{what} is not an array of {dtype}: {error}") from None
    if raw.dtype == dtype:
        return raw
    problem = _cast_problem(raw, np.dtype(dtype))
    if problem:
        raise ShapeError(f"{what} is not an array of {dtype}: {problem}")
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
                return f"{raw[~whole].flat[0].item()!r} is not a whole number"
        info = np.iinfo(dtype)
        low, high = raw.min(), raw.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            return f"{bad.item()!r} is outside the range of {dtype} ({info.min}..{info.max})"
    elif dtype.kind == "f" and raw.dtype.kind in "fiu" and raw.dtype.itemsize > dtype.itemsize:
        largest = np.finfo(dtype).max
        finite = raw[np.isfinite(raw)] if raw.dtype.kind == "f" else raw
        if finite.size and np.max(np.abs(finite)) > largest:
            bad = finite[np.abs(finite) > largest].flat[0].item()
            return f"{bad!r} is beyond the largest {dtype} ({largest:.3g}) and would become inf"
    return None


def positive_int(value: object, what: str) -> int:
    """`value` if it is an int >= 1 (not a bool), else a GraphError naming `what`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{what} must be a positive int, got {value!r}")
    if value < 1:
        raise ArgumentError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def check_run(epochs: int, batch_size: int, lr: float | None = None) -> None:
    """Refuse epochs or a batch size that is not a positive int, or a learning rate that is
    not a positive finite number."""
    positive_int(epochs, "the epochs")
    positive_int(batch_size, "the batch size")
    if lr is not None and not (isinstance(lr, (int, float)) and 0 < lr < float("inf")):
        raise ArgumentError(f"the learning rate must be positive and finite, got {lr!r}")


def check_training(training: object, where: str) -> bool:
    """`training` as a bool; anything but True/False (a string such as "no" is truthy) is
    refused."""
    if isinstance(training, (bool, np.bool_)):
        return bool(training)
    raise ArgumentError(
        f"{where}: training must be True (batch statistics, dropout) or False (inference), "
        f"got {training!r}"
    )


def check_seed(seed: object, where: str) -> int:
    """`seed` as a non-negative int (what NumPy's generators take)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"{where}: seed must be a non-negative int, got {seed!r}")
    return int(seed)


def real_number(value: object, where: str) -> float:
    """`value` as a finite float (an int or float, not a bool, NaN, infinity or text)."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
    ):
        raise ArgumentError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def fraction(value: object, where: str) -> float:
    """`value` as a number strictly between 0 and 1 (a share held out, a rate)."""
    number = real_number(value, where)
    if not 0 < number < 1:
        raise ArgumentError(f"{where} must be between 0 and 1 (both excluded), got {value!r}")
    return number


def check_flag(value: object, where: str) -> bool:
    """`value` as a bool; anything but True/False is refused (the string "no" is truthy)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(f"{where} must be True or False, got {value!r}")
