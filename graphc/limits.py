"""Size limits checked before anything is allocated or drawn: the largest array one
evaluation, lowered function, comparison or initialization may make, the most nodes a
picture may hand to Graphviz, and the longest a comparison method may be expected to run.

Every estimate is plain Python integer arithmetic on the static shapes (a dimension of
1e30 is a big number, never an overflow). A refusal names the node, its shape and the
bytes it needs, and how to raise the limit: `gc.set_limits(...)`, or the environment
variables GRAPHC_MAX_ARRAY_BYTES, GRAPHC_MAX_DRAWN_NODES and GRAPHC_MAX_SECONDS (read at
import, so they also reach the command line).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .errors import GraphError


class SizeError(GraphError, MemoryError):
    """An array, picture or computation estimated too large before it starts."""


def _memory() -> int:
    """This machine's physical memory in bytes (16 GiB when it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 16 * 2**30


def _from_environment(name: str, default: int | float) -> int | float:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise GraphError(f"the environment variable {name}={text!r} is not a number") from None
    if not value > 0:
        raise GraphError(f"the environment variable {name}={text!r} must be positive")
    return type(default)(value)


@dataclass
class Limits:
    """The limits in force (see `set_limits`)."""

    array_bytes: int  # the largest single array (default: this machine's memory)
    drawn_nodes: int  # the most nodes Graphviz is asked to lay out
    seconds: float  # the longest a gradient comparison method is estimated to run


LIMITS = Limits(
    array_bytes=_from_environment("GRAPHC_MAX_ARRAY_BYTES", _memory()),
    drawn_nodes=_from_environment("GRAPHC_MAX_DRAWN_NODES", 5_000),
    seconds=_from_environment("GRAPHC_MAX_SECONDS", 30.0),
)
HOW_TO_RAISE = {
    "array_bytes": "gc.set_limits(array_bytes=...) or GRAPHC_MAX_ARRAY_BYTES",
    "drawn_nodes": "gc.set_limits(drawn_nodes=...) or GRAPHC_MAX_DRAWN_NODES",
    "seconds": "gc.set_limits(seconds=...) or GRAPHC_MAX_SECONDS",
}


def set_limits(
    array_bytes: int | None = None, drawn_nodes: int | None = None, seconds: float | None = None
) -> dict:
    """Change the size limits (None keeps one); returns the previous values, so
    `gc.set_limits(**old)` restores them. `array_bytes`: the largest array an evaluation
    may make (default: this machine's memory); `drawn_nodes`: the most nodes a picture
    may have (default 5,000: Graphviz takes minutes beyond); `seconds`: the longest a
    gradient comparison method is estimated to run (default 30)."""
    previous = vars(LIMITS).copy()
    given = {"array_bytes": array_bytes, "drawn_nodes": drawn_nodes, "seconds": seconds}
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise GraphError(f"gc.set_limits: {name} must be a positive number, got {value!r}")
        if name != "seconds" and not float(value).is_integer():
            raise GraphError(f"gc.set_limits: {name} must be a whole number, got {value!r}")
    for name, value in given.items():
        if value is not None:
            setattr(LIMITS, name, float(value) if name == "seconds" else int(value))
    return previous


def format_bytes(count: int) -> str:
    """'298.0 GiB', '7.3 TiB', '1.0e+18 TiB': binary units, any size."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            value = count / scale if count < 2**1000 else math.inf
            return f"{value:,.1f} {unit}" if value < 1e6 else f"{value:.1e} {unit}"
    return f"{count} bytes"


def concrete_shape(shape: tuple, batch: int | None) -> tuple:
    """`shape` with each None (the batch dimension) set to `batch` (1 when unknown)."""
    return tuple((1 if batch is None else batch) if d is None else d for d in shape)


def array_bytes(shape: tuple, dtype: str, batch: int | None = None) -> int:
    """The bytes of an array of `shape` (None dims at `batch`) and `dtype`, exactly."""
    return math.prod(concrete_shape(shape, batch)) * np.dtype(dtype).itemsize


def check_arrays(nodes: Iterable, batch: int | None, what: str) -> None:
    """Refuse, before allocating, when one node's array at this batch size would exceed
    the array limit; the message names the node, its shape, its bytes and the limit."""
    worst, most = None, -1
    for node in nodes:
        size = array_bytes(node.shape, node.dtype, batch)
        if size > most:
            worst, most = node, size
    if worst is not None and most > LIMITS.array_bytes:
        refuse_array(worst, concrete_shape(worst.shape, batch), most, what)


def check_bytes(shape: tuple, dtype: str, what: str) -> None:
    """Refuse, before allocating, one array of `shape` and `dtype` (no graph node: data
    made by a loader) above the array limit."""
    size = array_bytes(shape, dtype)
    if size > LIMITS.array_bytes:
        raise SizeError(
            f"{what} would need a {shape} {dtype} array of {format_bytes(size)}, above the "
            f"limit of {format_bytes(LIMITS.array_bytes)} per array; use smaller sizes, or "
            f"raise the limit with {HOW_TO_RAISE['array_bytes']}"
        )


def refuse_array(node, shape: tuple, size: int, what: str) -> None:
    """Raise the SizeError of one too-large array of `node`."""
    name = f" {node.name!r}" if node.name else ""
    raise SizeError(
        f"{what}: {node.op}{name} (made at {node.site}) would need a {shape} {node.dtype} "
        f"array of {format_bytes(size)}, above the limit of "
        f"{format_bytes(LIMITS.array_bytes)} per array; use smaller shapes or batches, "
        f"or raise the limit with {HOW_TO_RAISE['array_bytes']}"
    )


def check_drawn(count: int, what: str, advice: str = "") -> None:
    """Refuse a picture of more than the limit's nodes before Graphviz lays it out."""
    if count > LIMITS.drawn_nodes:
        raise SizeError(
            f"{what}: {count:,} nodes to draw, too many for Graphviz to lay out in reasonable "
            f"time (the limit is {LIMITS.drawn_nodes:,}); {advice}raise the limit with "
            f"{HOW_TO_RAISE['drawn_nodes']} (saving to a .dot file needs no layout)"
        )


def check_seconds(seconds: float, what: str, advice: str = "") -> None:
    """Refuse work estimated (before it starts) to take longer than the limit."""
    if seconds > LIMITS.seconds:
        raise SizeError(
            f"{what} would take about {seconds:,.0f} s, above the limit of "
            f"{LIMITS.seconds:,.0f} s; {advice}raise the limit with {HOW_TO_RAISE['seconds']}"
        )


def size_table(nodes: Iterable) -> list[tuple[int, int, object]]:
    """For each count k of batch dimensions, the node whose array is largest per batch**k
    rows: (k, bytes at batch 1, node). `check_table` then costs a few multiplications."""
    worst: dict[int, tuple[int, object]] = {}
    for node in nodes:
        k = sum(d is None for d in node.shape)
        size = array_bytes(node.shape, node.dtype, 1)
        if size > worst.get(k, (-1, None))[0]:
            worst[k] = (size, node)
    return [(k, size, node) for k, (size, node) in sorted(worst.items())]


def check_table(table: list, batch: int | None, what: str) -> None:
    """`check_arrays` on a `size_table`, at this batch size."""
    rows = 1 if batch is None else batch
    for k, size, node in table:
        if size * rows**k > LIMITS.array_bytes:
            refuse_array(node, concrete_shape(node.shape, batch), size * rows**k, what)


@contextlib.contextmanager
def using(**values) -> Iterator[None]:
    """`set_limits(**values)` inside a with block, the previous limits after it."""
    previous = set_limits(**values)
    try:
        yield
    finally:
        set_limits(**previous)
