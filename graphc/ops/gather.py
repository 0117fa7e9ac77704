"""Gathering by integer ids: `take` picks entries along an axis (an embedding lookup is
take along the rows of a table), and its transpose `take_backward` adds a cotangent back
into the entries the ids picked (the scatter-add of an embedding's gradient)."""

from __future__ import annotations

import numpy as np

from ..errors import DtypeError, ShapeError
from ..ir import Node, user_site
from .composite import composite
from .registry import F, OpDef, Rows, apply, lift, normalize_axis, register, size
from .shape import one_hot


def _check_ids(ids: Node, what: str) -> None:
    if not ids.dtype.startswith("int"):
        raise DtypeError(f"{what} must be integers (gc.input(..., dtype='int64')), got {ids.dtype}")


def _take_attrs(attrs, x: Node, ids: Node) -> dict:
    (axis,) = normalize_axis(attrs.get("axis", 0), x.ndim)
    return {"axis": axis}


def _take_infer(attrs, x: Node, ids: Node):
    _check_ids(ids, "the ids of take")
    axis = attrs["axis"]
    if x.shape[axis] is None:
        raise ShapeError(f"take along axis {axis} of {x.shape}: the axis needs a known size")
    return x.shape[:axis] + ids.shape + x.shape[axis + 1 :], x.dtype


def _as_ints(ids):
    """Integer ids from an array of SymPy numbers (symbolic mode bakes integers in)."""
    return np.vectorize(int, otypes=[np.int64])(np.asarray(ids, dtype=object))


def _take_samples(rng):
    return [
        ((rng.normal(size=(5, 3)), rng.integers(0, 5, size=(2, 4))), {"axis": 0}),
        ((rng.normal(size=(2, 4, 3)), rng.integers(0, 4, size=(3,))), {"axis": 1}),
    ]


def _picked_rows(node):
    """The ids and the rows they may pick (None where the axis has no fixed size)."""
    rows = node.inputs[0].shape[node.attrs["axis"]]
    return None if rows is None else (node.inputs[1], Rows(rows))


register(
    OpDef(
        "take",
        2,
        _take_infer,
        kernel=lambda x, ids, axis: np.take(x, ids, axis=axis),
        normalize=_take_attrs,
        array_fn="take",
        class_ids=_picked_rows,
        array_args=lambda n: ((n.inputs[0], n.inputs[1]), {"axis": n.attrs["axis"]}),
        sympy=lambda x, ids, axis: np.take(x, _as_ints(ids), axis=axis),
        board=lambda x, ids: ("upstream added into the entries the ids pick", ""),
        vjp=(
            lambda g, n: F.take_backward(
                g, n.inputs[1], axis=n.attrs["axis"], size=n.inputs[0].shape[n.attrs["axis"]]
            ),
            None,
        ),
        jvp=(lambda t, n: F.take(t, n.inputs[1], axis=n.attrs["axis"]), None),
        label=lambda n: "take" if n.attrs["axis"] == 0 else f"take(axis={n.attrs['axis']})",
        samples=_take_samples,
        runtime_shape=lambda n, x, ids: [*x[: n.attrs["axis"]], *ids, *x[n.attrs["axis"] + 1 :]],
        flops=0,
        complex_step=True,
        doc="the entries of x at the integer ids along one axis (np.take)",
    )
)


def _backward_infer(attrs, g: Node, ids: Node):
    _check_ids(ids, "the ids of take_backward")
    axis, k = attrs["axis"], ids.ndim
    if g.shape[axis : axis + k] != ids.shape:
        raise ShapeError(f"a cotangent of shape {g.shape} does not hold ids {ids.shape} at {axis}")
    return g.shape[:axis] + (attrs["size"],) + g.shape[axis + k :], g.dtype


def _by_rows(g_shape: tuple, ids_shape: tuple, axis: int) -> tuple | None:
    """For the scatter-add of an embedding's gradient (axis 0; ids of known sizes after a
    leading batch axis; known feature sizes): (positions per example P, features R), so that
    the sum is one batched product of one-hot rows (batch, V, P) with g (batch, P, R) and a
    sum over the batch. None where the general broadcast product is used instead."""
    rest = g_shape[len(ids_shape) :]
    if axis != 0 or not ids_shape or None in ids_shape[1:] or None in rest:
        return None
    return size(ids_shape[1:]), size(rest)


def take_backward_kernel(g, ids, axis, size):
    """Σ over the ids' positions p of g[p] added into entry ids[p]: the one-hot rows of
    the ids times g, summed over the ids' axes. Never a reshape that merges the batch axis
    with another (lowering's buffers take every unknown size for the batch size)."""
    ids = np.asarray(ids)
    k, rest = ids.ndim, np.ndim(g) - axis - ids.ndim
    rows = (ids[..., None] == np.arange(size)).astype(g.dtype)
    split = _by_rows(np.shape(g), (None, *ids.shape[1:]), axis) if k else None
    if split is not None:
        per, features = split
        rows = np.transpose(np.reshape(rows, (-1, per, size)), (0, 2, 1))
        total = np.sum(np.matmul(rows, np.reshape(g, (-1, per, features))), axis=0)
        return np.reshape(total, (size, *np.shape(g)[k:]))
    product = np.expand_dims(g, axis + k) * np.reshape(rows, rows.shape + (1,) * rest)
    return np.sum(product, axis=tuple(range(axis, axis + k))) if k else product


def _backward_parts(n: Node) -> Node:
    """take_backward_kernel's steps as ops, for lowering."""
    g, ids = n.inputs
    axis, k, count = n.attrs["axis"], ids.ndim, n.attrs["size"]
    rest = g.ndim - axis - k
    rows = one_hot(ids, count, dtype=g.dtype)
    split = _by_rows(g.shape, (None, *ids.shape[1:]), axis) if k else None
    if split is not None:
        per, features = split
        rows = F.transpose(F.reshape(rows, shape=(-1, per, count)), axes=(0, 2, 1))
        total = F.sum(F.matmul(rows, F.reshape(g, shape=(-1, per, features))), axis=0)
        return F.reshape(total, shape=(count, *g.shape[k:]))
    if rest:
        rows = F.expand_dims(rows, axis=tuple(range(rows.ndim, rows.ndim + rest)))
    product = F.expand_dims(g, axis=(axis + k,)) * rows
    return F.sum(product, axis=tuple(range(axis, axis + k))) if k else product


def _backward_sympy(g, ids, axis, size):
    g, ids = np.asarray(g, dtype=object), _as_ints(ids)
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + ids.ndim :], dtype=object)
    rows = np.moveaxis(out, axis, 0)  # a view: adding into it fills `out`
    picked = np.moveaxis(g, list(range(axis, axis + ids.ndim)), list(range(ids.ndim)))
    for position in np.ndindex(*ids.shape):
        rows[ids[position]] = rows[ids[position]] + picked[position]
    return out


def _backward_samples(rng):
    return [
        ((rng.normal(size=(2, 4, 3)), rng.integers(0, 5, size=(2, 4))), {"axis": 0, "size": 5}),
        ((rng.normal(size=(2, 3, 3)), rng.integers(0, 4, size=(3,))), {"axis": 1, "size": 4}),
    ]


register(
    OpDef(
        "take_backward",
        2,
        _backward_infer,
        kernel=take_backward_kernel,
        decompose=_backward_parts,
        normalize=lambda attrs, g, ids: {"axis": int(attrs["axis"]), "size": int(attrs["size"])},
        sympy=_backward_sympy,
        board=lambda g, ids: ("1 at the entries the ids pick", ""),
        vjp=(lambda g, n: F.take(g, n.inputs[1], axis=n.attrs["axis"]), None),
        jvp=(
            lambda t, n: F.take_backward(
                t, n.inputs[1], axis=n.attrs["axis"], size=n.attrs["size"]
            ),
            None,
        ),
        label=lambda n: "scatter-add",
        samples=_backward_samples,
        runtime_shape=lambda n, g, ids: [
            *g[: n.attrs["axis"]],
            n.attrs["size"],
            *g[n.attrs["axis"] + n.inputs[1].ndim :],
        ],
        flops=lambda n: 2 * size(n.inputs[0].shape) * n.attrs["size"],
        complex_step=True,
        doc="g added into `size` entries along `axis` at the ids (take's transpose)",
    )
)


@composite(label="embedding", board=("∂/∂table = upstream rows added into the rows the ids pick",))
def embedding(ids, table) -> Node:
    """The rows of `table` (V, D) picked by the integer `ids` (any shape): shape
    ids.shape + (D,), as torch.nn.functional.embedding. Its gradient adds each upstream row
    into the table row its id picked. Ids are checked where data enters (0 .. V-1)."""
    ids, table = lift(ids), lift(table)
    if not ids.dtype.startswith("int"):
        raise DtypeError(
            f"{user_site()}: embedding: the ids must be integers "
            f"(gc.input(..., dtype='int64')), got {ids.dtype}"
        )
    if table.ndim != 2 or table.shape[0] is None:
        raise ShapeError(
            f"{user_site()}: embedding: the table must be (rows, features) with a known "
            f"number of rows, got {table.shape}"
        )
    return apply("take", table, ids, axis=0)


def take(x, ids, axis: int = 0) -> Node:
    """The entries of x at the integer `ids` along `axis` (np.take)."""
    return apply("take", x, ids, axis=axis)
