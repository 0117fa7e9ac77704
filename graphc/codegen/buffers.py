"""Output buffers for the fast NumPy renderer: reuse and in-place writes (`out=`).

Every variable lives in some storage. A statement that can take `out=` writes either into
the storage of an operand that dies at this statement (in place), or into a pooled buffer
that no live variable uses, or (when its value leaves the function) into a fresh array.
Views share the storage of their operands, so a storage is free only when every variable
that may point into it is dead: each storage keeps the last statement that reads any of
its variables, so the check is one comparison and the whole plan takes linear time.
Constants and arguments are never written, except an argument the plan donates (a param,
a slot, a running statistic the step replaces): once nothing reads it any more, a
statement may write into it, so an optimizer update lands in the param itself. Pooled
buffers persist across calls, one set per batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .plan import Plan, Statement

FOREVER = 1 << 60


@dataclass(eq=False)
class Storage:
    """Memory that variables may point into: a pooled buffer, a fresh array, or a leaf."""

    writable: bool
    last: int = -1  # the last statement reading a variable that points here
    buffer: Buffer | None = None
    released: bool = False


@dataclass
class Buffer:
    """A pooled work buffer: its variable name in the source, static shape and dtype."""

    name: str
    shape: tuple
    dtype: str


@dataclass
class BufferPlan:
    """Where each statement writes (`out`: statement index -> variable) and the pool."""

    out: dict[int, str] = field(default_factory=dict)
    buffers: list[Buffer] = field(default_factory=list)
    storages: dict[str, list[Storage]] = field(default_factory=dict)


def plan_buffers(
    plan: Plan,
    can_write_out: Callable[[Statement], bool],
    overwritable: Callable[[Statement], tuple[int, ...]],
) -> BufferPlan:
    """Give each statement that `can_write_out` an output buffer, reusing dead ones.

    `overwritable(statement)` lists the operand positions whose storage the statement may
    write its result into (an elementwise ufunc reads each element before writing it).
    """
    statements = plan.statements
    last_use: dict[str, int] = {}
    for i, statement in enumerate(statements):
        for name in statement.reads():
            last_use[name] = i
    for name in plan.escaping | plan.keep | plan.donated.keys():
        last_use[name] = FOREVER
    escaping = _close_over_views(statements, plan.escaping)

    result = BufferPlan()
    storages_of = result.storages
    donated = set(plan.donated.values())
    for name in [*plan.args, *plan.constants]:
        if name in donated:
            storages_of[name] = [Storage(writable=True, last=last_use.get(name, -1))]
        else:
            storages_of[name] = [Storage(writable=False, last=FOREVER)]
    free: dict[tuple, list[Buffer]] = {}

    for i, statement in enumerate(statements):
        target = statement.target
        operands = [a[1] for a in statement.args if a[0] == "var"]
        if not can_write_out(statement) or target in escaping:
            own = Storage(writable=not statement.view and target not in escaping)
            shared = [s for name in operands for s in storages_of.get(name, ())]
            storages = [own] + (shared if statement.view else [])
        else:
            found = _in_place(statement, i, storages_of, plan, overwritable)
            if found is not None:
                storage, result.out[i] = found
            else:
                storage = _pooled(statement, free, result.buffers)
                result.out[i] = storage.buffer.name
            storages = [storage]
        for storage in storages:
            storage.last = max(storage.last, last_use.get(target, i))
        storages_of[target] = storages
        for name in {*operands, target}:
            for storage in storages_of.get(name, ()):
                if storage.buffer and not storage.released and storage.last <= i:
                    storage.released = True
                    key = (storage.buffer.shape, storage.buffer.dtype)
                    free.setdefault(key, []).append(storage.buffer)
    return result


def _in_place(statement: Statement, i: int, storages_of, plan: Plan, overwritable):
    """(storage, variable) of an operand that dies here and has the result's shape and
    dtype; None when there is none."""
    names = [a[1] if a[0] == "var" else None for a in statement.args]
    for pos in overwritable(statement):
        name = names[pos]
        if (
            name is None
            or plan.shapes.get(name) != statement.shape
            or plan.dtypes.get(name) != statement.dtype
        ):
            continue
        storages = storages_of.get(name, [])
        if len(storages) != 1 or not storages[0].writable or storages[0].last > i:
            continue
        storage = storages[0]
        # an elementwise ufunc may read the same variable at another position (x * x into
        # x); select reads `b` after writing, so b must not be the storage it writes
        others = [
            n
            for k, n in enumerate(names)
            if n is not None and k != pos and (n != name or statement.call == "where")
        ]
        if any(storage in storages_of.get(n, ()) for n in others):
            continue
        return storage, name
    return None


def _pooled(statement: Statement, free: dict, buffers: list[Buffer]) -> Storage:
    key = (statement.shape, statement.dtype)
    if free.get(key):
        buffer = free[key].pop()
    else:
        buffer = Buffer(f"_buf{len(buffers)}", statement.shape, statement.dtype)
        buffers.append(buffer)
    return Storage(writable=True, buffer=buffer)


def _close_over_views(statements: list[Statement], escaping: set[str]) -> set[str]:
    """Escaping variables plus every variable an escaping view may view."""
    result = set(escaping)
    for statement in reversed(statements):
        if statement.target in result and statement.view:
            result.update(a[1] for a in statement.args if a[0] == "var")
    return result
