"""Cutting and joining along an axis: slicing and integer indexing of nodes (`x[:, t]`,
`x[:, 1:]`, negative indices), `split`, `concat`, `stack`, and the zero padding that is a
slice's transpose.

Each op works on one axis of known size; `x[1, :, 2:]` is a chain of them. Lowering
writes each as `take` of constant positions (and a select where zeros or the other input
go), so every target computes the same bits with the array-API functions it has.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError, ShapeError
from ..ir import Node, user_site
from .gather import take
from .registry import (
    MULTILINEAR,
    F,
    OpDef,
    apply,
    lift,
    normalize_axis,
    register,
    result_dtype,
)
from .shape import _drop, expand_dims


def _known_axis(x: Node, axis, what: str) -> int:
    (axis,) = normalize_axis(axis, x.ndim)
    if x.shape[axis] is None:
        raise ShapeError(
            f"{what} along axis {axis} of {x.shape}: that axis (the batch) has no fixed size"
        )
    return axis


# ---- pad: zeros before and after, one (before, after) pair per axis -------------------


def _pad_attrs(attrs, x: Node) -> dict:
    widths = tuple((int(a), int(b)) for a, b in attrs["widths"])
    if len(widths) != x.ndim or any(a < 0 or b < 0 for a, b in widths):
        raise ShapeError(f"pad needs one (before, after) pair >= 0 per axis of {x.shape}")
    return {"widths": widths}


def _pad_infer(attrs, x: Node):
    shape = []
    for d, (a, b) in zip(x.shape, attrs["widths"]):
        if d is None and a + b:
            raise ShapeError(f"cannot pad the batch axis of {x.shape}")
        shape.append(None if d is None else d + a + b)
    return tuple(shape), x.dtype


def _placed(x: Node, axis: int, before: int, length: int) -> tuple[Node, Node]:
    """(x's entries along `axis` moved `before` places on into `length` places, the entries
    outside x repeating its edge; where x lies, as booleans broadcasting along `axis`): a
    take of constant positions, so lowering needs no np.pad (whose Python code costs a
    millisecond a call)."""
    size = x.shape[axis]
    positions = np.arange(length) - before
    inside = (positions >= 0) & (positions < size)
    shape = [1] * x.ndim
    shape[axis] = length
    moved = take(x, lift(np.clip(positions, 0, size - 1).astype(np.int64)), axis)
    return moved, lift(inside.reshape(shape))


def _padded(x: Node, widths: tuple) -> Node:
    """pad's kernel as ops: per padded axis, x placed and zero outside (bit-exact)."""
    for axis, (a, b) in enumerate(widths):
        if a or b:
            moved, inside = _placed(x, axis, a, x.shape[axis] + a + b)
            x = F.where(inside, moved, 0.0)
    return x


def _unpad(g: Node, n: Node) -> Node:
    for axis, (a, b) in enumerate(n.attrs["widths"]):
        if a or b:
            g = F.slice(g, axis=axis, start=a, stop=g.shape[axis] - b, step=1)
    return g


register(
    OpDef(
        "pad",
        1,
        _pad_infer,
        kernel=lambda x, widths: np.pad(x, widths),
        normalize=_pad_attrs,
        decompose=lambda n: _padded(n.inputs[0], n.attrs["widths"]),
        sympy=lambda x, widths: np.pad(np.asarray(x, dtype=object), widths, constant_values=0),
        board=lambda x: ("1: upstream with the padding cut off",),
        vjp=(_unpad,),
        jvp=MULTILINEAR,
        label=lambda n: f"pad{list(n.attrs['widths'])}",
        samples=lambda rng: [((rng.normal(size=(3, 4)),), {"widths": ((0, 0), (1, 2))})],
        runtime_shape=lambda n, x: [
            d if a + b == 0 else n.shape[i]
            for i, (d, (a, b)) in enumerate(zip(x, n.attrs["widths"]))
        ],
        flops=0,
        complex_step=True,
        doc="x with zeros added before and after along each axis",
    )
)


# ---- slice: start:stop:step along one axis --------------------------------------------


def _slice_attrs(attrs, x: Node) -> dict:
    axis = _known_axis(x, attrs["axis"], "slicing")
    step = attrs.get("step", 1)
    step = 1 if step is None else step
    if not isinstance(step, (int, np.integer)) or step < 1:
        raise ShapeError(f"a slice step must be a positive int (as in torch), got {step!r}")
    start, stop, _ = slice(attrs.get("start"), attrs.get("stop")).indices(x.shape[axis])
    return {"axis": axis, "start": start, "stop": max(start, stop), "step": int(step)}


def _positions(attrs) -> range:
    return range(attrs["start"], attrs["stop"], attrs["step"])


def _slice_infer(attrs, x: Node):
    axis = attrs["axis"]
    return x.shape[:axis] + (len(_positions(attrs)),) + x.shape[axis + 1 :], x.dtype


def slice_kernel(x, axis, start, stop, step):
    return x[(slice(None),) * axis + (slice(start, stop, step),)]


def _slice_vjp(g: Node, n: Node) -> Node:
    axis, full = n.attrs["axis"], n.inputs[0].shape[n.attrs["axis"]]
    if n.attrs["step"] == 1:
        widths = [(0, 0)] * g.ndim
        widths[axis] = (n.attrs["start"], full - n.attrs["stop"])
        return F.pad(g, widths=tuple(widths))
    positions = lift(np.asarray(_positions(n.attrs), dtype=np.int64))
    return F.take_backward(g, positions, axis=axis, size=full)


def _slice_label(n: Node) -> str:
    a = n.attrs
    step = f":{a['step']}" if a["step"] != 1 else ""
    return "[" + ":, " * a["axis"] + f"{a['start']}:{a['stop']}{step}]"


register(
    OpDef(
        "slice",
        1,
        _slice_infer,
        kernel=slice_kernel,
        normalize=_slice_attrs,
        array_fn="slice",  # x[:, start:stop:step]: every target's basic indexing, a view
        array_args=lambda n: ((n.inputs[0],), dict(n.attrs)),
        view=True,
        sympy=slice_kernel,
        board=lambda x: ("1 at the sliced entries, 0 elsewhere",),
        vjp=(_slice_vjp,),
        jvp=MULTILINEAR,
        label=_slice_label,
        samples=lambda rng: [
            ((rng.normal(size=(3, 5)),), {"axis": 1, "start": 1, "stop": 4, "step": 1}),
            ((rng.normal(size=(4, 5, 2)),), {"axis": 1, "start": -4, "stop": None, "step": 2}),
        ],
        runtime_shape=lambda n, x: [
            n.shape[i] if i == n.attrs["axis"] else d for i, d in enumerate(x)
        ],
        flops=0,
        complex_step=True,
        doc="the entries start:stop:step along one axis of known size",
    )
)


# ---- concat of two inputs along one axis ------------------------------------------------


def _concat_infer(attrs, a: Node, b: Node):
    axis = attrs["axis"]
    if a.ndim != b.ndim or any(
        d != e for k, (d, e) in enumerate(zip(a.shape, b.shape)) if k != axis
    ):
        raise ShapeError(f"cannot join {a.shape} and {b.shape} along axis {axis}")
    if a.shape[axis] is None or b.shape[axis] is None:
        raise ShapeError(f"joining {a.shape} and {b.shape} along the batch axis {axis}")
    shape = list(a.shape)
    shape[axis] = a.shape[axis] + b.shape[axis]
    return tuple(shape), a.dtype if a.dtype == b.dtype else result_dtype(a, b)


def _concat_parts(n: Node) -> Node:
    """A select between the two inputs each placed along the joined axis (exact bits)."""
    a, b = n.inputs
    axis, first = n.attrs["axis"], a.shape[n.attrs["axis"]]
    placed_a, inside_a = _placed(a, axis, 0, n.shape[axis])
    placed_b, _ = _placed(b, axis, first, n.shape[axis])
    return F.where(inside_a, placed_a, placed_b)


def _part(n: Node, g: Node, which: int) -> Node:
    axis, first = n.attrs["axis"], n.inputs[0].shape[n.attrs["axis"]]
    start, stop = (0, first) if which == 0 else (first, n.shape[axis])
    return F.slice(g, axis=axis, start=start, stop=stop, step=1)


register(
    OpDef(
        "concat",
        2,
        _concat_infer,
        kernel=lambda a, b, axis: np.concatenate([a, b], axis=axis),
        normalize=lambda attrs, a, b: {"axis": normalize_axis(attrs["axis"], a.ndim)[0]},
        decompose=_concat_parts,
        sympy=lambda a, b, axis: np.concatenate(
            [np.asarray(a, dtype=object), np.asarray(b, dtype=object)], axis=axis
        ),
        board=lambda a, b: ("1: the first part of upstream", "1: the second part of upstream"),
        vjp=(lambda g, n: _part(n, g, 0), lambda g, n: _part(n, g, 1)),
        # jointly linear, not in each input alone: the other part's tangent is zero
        jvp=(
            lambda t, n: F.concat(t, F.broadcast_like(0.0, n.inputs[1]), axis=n.attrs["axis"]),
            lambda t, n: F.concat(F.broadcast_like(0.0, n.inputs[0]), t, axis=n.attrs["axis"]),
        ),
        linear=(0, 1),
        label=lambda n: f"concat(axis={n.attrs['axis']})",
        samples=lambda rng: [
            ((rng.normal(size=(3, 2)), rng.normal(size=(3, 4))), {"axis": 1}),
            ((rng.normal(size=(1, 2, 3)), rng.normal(size=(2, 2, 3))), {"axis": 0}),
        ],
        runtime_shape=lambda n, a, b: [
            n.shape[i] if i == n.attrs["axis"] else d for i, d in enumerate(a)
        ],
        flops=0,
        complex_step=True,
        doc="a and b joined along one axis",
    )
)


# ---- the builders -----------------------------------------------------------------------


def concat(xs, axis: int = 0) -> Node:
    """The nodes in `xs` joined along `axis` (torch.cat), as a balanced tree of pairs."""
    parts = [lift(x) for x in _sequence(xs, "concat")]
    while len(parts) > 1:
        pairs = [apply("concat", a, b, axis=axis) for a, b in zip(parts[::2], parts[1::2])]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def stack(xs, axis: int = 0) -> Node:
    """The nodes in `xs`, all of one shape, stacked along a new `axis` (torch.stack)."""
    parts = [lift(x) for x in _sequence(xs, "stack")]
    shapes = {p.shape for p in parts}
    if len(shapes) > 1:
        raise ShapeError(f"{user_site()}: stack needs nodes of one shape, got {sorted(shapes)}")
    (axis,) = normalize_axis(axis, parts[0].ndim + 1)
    return concat([expand_dims(p, (axis,)) for p in parts], axis=axis)


def split(x, sections, axis: int = 0) -> list[Node]:
    """x cut along `axis` (torch.split): pieces of `sections` entries each (the last one
    shorter), or of the sizes in a list `sections`, which must add up to the axis."""
    x = lift(x)
    axis = _known_axis(x, axis, "split")
    full = x.shape[axis]
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
        if sections < 1:
            raise ShapeError(f"{user_site()}: split sizes must be positive, got {sections}")
        sizes = [min(sections, full - s) for s in range(0, full, int(sections))]
    else:
        sizes = [int(s) for s in sections]
        if sum(sizes) != full or any(s < 1 for s in sizes):
            raise ShapeError(
                f"{user_site()}: split sizes {sizes} do not add up to the {full} entries of "
                f"axis {axis} of {x.shape}"
            )
    starts = np.cumsum([0, *sizes])
    return [
        apply("slice", x, axis=axis, start=int(a), stop=int(b)) for a, b in zip(starts, starts[1:])
    ]


def _sequence(xs, what: str) -> list:
    if isinstance(xs, Node) or not isinstance(xs, (list, tuple)) or not xs:
        given = f"a {type(xs).__name__} of shape {xs.shape}" if hasattr(xs, "shape") else repr(xs)
        raise GraphError(f"{user_site()}: {what} takes a non-empty list of nodes, got {given}")
    return list(xs)


def index(x: Node, key) -> Node:
    """x[key] for ints, slices and one Ellipsis (NumPy's basic indexing): one slice op per
    cut axis, and a reshape that drops the axes an int picked from."""
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise GraphError(f"{user_site()}: an index may hold one Ellipsis (...), got {key!r}")
    for k in key:
        if k is not Ellipsis and not isinstance(k, slice) and not _is_int(k):
            raise GraphError(
                f"{user_site()}: nodes are indexed by ints, slices and ..., got {k!r} in {key!r}"
            )
    given = len(key) - (Ellipsis in key)
    if given > x.ndim:
        raise GraphError(f"{user_site()}: {given} indices for a node of shape {x.shape}")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (x.ndim - given) + key[at + 1 :]
    key = key + (slice(None),) * (x.ndim - len(key))
    picked = [a for a, k in enumerate(key) if _is_int(k)]
    if picked == [x.ndim - 1] and all(k == slice(None) for k in key[:-1]):
        return apply("index_last", x, index=key[-1])  # x[..., k]: one op, one take
    for axis, k in enumerate(key):
        if _is_int(k):
            if x.shape[axis] is None:
                raise ShapeError(
                    f"{user_site()}: cannot index the batch axis {axis} of {x.shape} with an "
                    "int; index the evaluated array instead"
                )
            if not -x.shape[axis] <= k < x.shape[axis]:
                raise ShapeError(
                    f"{user_site()}: index {k} is out of range for axis {axis} of {x.shape}"
                )
            k = int(k) % x.shape[axis]
            x = apply("slice", x, axis=axis, start=k, stop=k + 1)
        elif k != slice(None):
            x = apply("slice", x, axis=axis, start=k.start, stop=k.stop, step=k.step)
    return _drop(x, tuple(picked))


def _is_int(k) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))
