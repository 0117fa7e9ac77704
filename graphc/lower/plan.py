"""Output buffers for a straight-line list of steps: reuse and in-place writes.

Every variable lives in some storage. A step that can take `out=` writes either into
the storage of an operand that dies at this step (in place), or into a pooled buffer that
no live variable uses, or (when its value leaves the function) into a fresh array. Views
and copied kernels share the storage of their operands, so a storage is free only when
every variable that may point into it is dead. Leaves (the caller's arrays) are never
written. Pooled buffers persist across calls, one set per batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .steps import Step

FOREVER = 1 << 60


@dataclass
class Storage:
    """Memory that variables may point into: a pooled buffer, a fresh array, or a leaf."""

    writable: bool
    vars: set = field(default_factory=set)
    buffer: str | None = None  # pooled buffer name
    released: bool = False


@dataclass
class Buffer:
    """A pooled work buffer: its variable name in the source, static shape and dtype."""

    name: str
    shape: tuple
    dtype: str


def plan(
    steps: list[Step],
    leaves: list[str],
    escaping: set[str],
    keep: set[str],
    shapes: dict,
    dtypes: dict,
) -> tuple[list[Buffer], dict[str, list[Storage]]]:
    """Fill in `step.out` for each step; return the pooled buffers and each variable's storages.

    `escaping` are the variables whose values the caller keeps after the function returns
    (they and whatever they may view get fresh arrays, never pooled buffers); `keep` are
    read after the last step inside the function (they stay live, in pooled buffers).
    """
    last_use: dict[str, int] = {}
    for i, step in enumerate(steps):
        for kind, name in step.args:
            if kind == "var":
                last_use[name] = i
        for name in _expr_vars(step):
            last_use[name] = i
    for name in escaping | keep:
        last_use[name] = FOREVER
    escaping = _close_over_views(steps, escaping)

    storages_of: dict[str, list[Storage]] = {}
    for name in leaves:
        storages_of[name] = [Storage(writable=False, vars={name})]
    free: dict[tuple, list[str]] = {}
    buffers: list[Buffer] = []
    by_name: dict[str, Buffer] = {}

    def dead_after(storage: Storage, i: int) -> bool:
        return all(last_use.get(v, -1) <= i for v in storage.vars)

    for i, step in enumerate(steps):
        operands = [name for kind, name in step.args if kind == "var"] + _expr_vars(step)
        if step.kind in ("call", "expr") or not step.can_write_out or step.target in escaping:
            own = Storage(
                writable=step.kind in ("ufunc", "reduce", "select") and step.target not in escaping
            )
            shared = (
                [s for name in operands for s in storages_of.get(name, ())]
                if step.kind in ("call", "expr")
                else []
            )
            storages = [own] + shared
        else:
            storages = [
                _in_place(step, i, storages_of, shapes, dtypes, dead_after)
                or _pooled(step, free, buffers)
            ]
        by_name.update((b.name, b) for b in buffers)
        for storage in storages:
            storage.vars.add(step.target)
        storages_of[step.target] = storages
        for name in set(operands) | {step.target}:
            for storage in storages_of.get(name, ()):
                if storage.buffer and not storage.released and dead_after(storage, i):
                    storage.released = True
                    buffer = by_name[storage.buffer]
                    free.setdefault((buffer.shape, buffer.dtype), []).append(buffer.name)
    return buffers, storages_of


def _in_place(step: Step, i: int, storages_of, shapes, dtypes, dead_after) -> Storage | None:
    """The storage of an operand that dies here and has the result's shape and dtype."""
    names = [a[1] if a[0] == "var" else None for a in step.args]
    for pos in step.overwritable():
        name = names[pos]
        if name is None or shapes.get(name) != step.shape or dtypes.get(name) != step.dtype:
            continue
        storages = storages_of.get(name, [])
        if len(storages) != 1 or not storages[0].writable or not dead_after(storages[0], i):
            continue
        storage = storages[0]
        # an elementwise ufunc may read the same variable at another position (x * x into
        # x); select reads `b` after writing, so b must not be the storage it writes
        others = [
            n
            for k, n in enumerate(names)
            if n is not None and k != pos and (n != name or step.kind != "ufunc")
        ]
        if any(storage in storages_of.get(n, ()) for n in others):
            continue
        step.out = name
        return storage
    return None


def _pooled(step: Step, free: dict, buffers: list[Buffer]) -> Storage:
    key = (step.shape, step.dtype)
    if free.get(key):
        name = free[key].pop()
    else:
        name = f"_buf{len(buffers)}"
        buffers.append(Buffer(name, step.shape, step.dtype))
    step.out = name
    return Storage(writable=True, buffer=name)


def _expr_vars(step: Step) -> list[str]:
    return list(step.refs)


def _close_over_views(steps: list[Step], escaping: set[str]) -> set[str]:
    """Escaping variables plus every variable an escaping view or kernel result may view."""
    result = set(escaping)
    for step in reversed(steps):
        if step.target in result and step.kind in ("call", "expr"):
            result.update(name for kind, name in step.args if kind == "var")
            result.update(_expr_vars(step))
    return result
