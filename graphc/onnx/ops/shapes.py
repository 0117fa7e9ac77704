"""ONNX's reductions and shape ops (shapes and axes must be known when reading)."""

from __future__ import annotations

import numpy as np

from ...ir import Node
from ...ops.cast import cast
from ...ops.elementwise import abs as absolute
from ...ops.elementwise import log, sqrt
from ...ops.leaves import const
from ...ops.reductions import logsumexp, mean
from ...ops.reductions import sum as reduce_sum
from ...ops.registry import F, apply
from ...ops.shape import expand_dims, reshape, transpose
from ..errors import OnnxError
from ..tensors import tensor_array
from .table import Read, onnx_op, typed

# ---- reductions ------------------------------------------------------------------------


def _reduction(op_type: str, newest: int, since: int, fn):
    """A ReduceX op: axes an attribute before `since`, an input from it on."""

    @onnx_op(op_type, newest, axes=None, keepdims=1, noop_with_empty_axes=0)
    def build(b: Read):
        x = b.inputs[0]
        axes = b.axes(1, since=since)
        if not axes:
            if b.attrs["noop_with_empty_axes"]:
                return x
            axes = tuple(range(x.ndim))
        axes = tuple(sorted(a % x.ndim for a in axes)) if x.ndim else ()
        return typed(fn(x, axes, bool(b.attrs["keepdims"])), x.dtype)

    return build


def _max(x, axes, keep):
    return apply("max", x, axis=axes, keepdims=keep) if axes else x


_reduction("ReduceSum", 13, 13, lambda x, a, k: reduce_sum(x, axis=a, keepdims=k))
_reduction("ReduceMean", 18, 18, lambda x, a, k: mean(x, axis=a, keepdims=k))
_reduction("ReduceMax", 20, 18, _max)
_reduction(
    "ReduceMin",
    20,
    18,
    lambda x, a, k: -_max(-(cast(x, "int64") if x.dtype == "bool" else x), a, k),
)
_reduction("ReduceSumSquare", 18, 18, lambda x, a, k: reduce_sum(x * x, axis=a, keepdims=k))
_reduction("ReduceL1", 18, 18, lambda x, a, k: reduce_sum(absolute(x), axis=a, keepdims=k))
_reduction("ReduceL2", 18, 18, lambda x, a, k: sqrt(reduce_sum(x * x, axis=a, keepdims=k)))
_reduction("ReduceLogSum", 28, 18, lambda x, a, k: log(reduce_sum(x, axis=a, keepdims=k)))
_reduction(
    "ReduceLogSumExp",
    28,
    18,
    lambda x, a, k: logsumexp(x, axis=a if len(a) > 1 else a[0], keepdims=k) if a else x,
)


# ---- shapes ----------------------------------------------------------------------------


def _target(shape: tuple) -> tuple:
    """A static shape as graphc's reshape target: the batch dimension is -1."""
    if sum(d is None for d in shape) > 1:
        raise OnnxError(f"a shape with more than one unknown size {shape} cannot be reshaped")
    return tuple(-1 if d is None else int(d) for d in shape)


@onnx_op("Reshape", 25, allowzero=0)
def _reshape(b: Read):
    x, shape = b.inputs[0], [int(d) for d in b.static(1, "shape")]
    if 0 in shape and b.attrs["allowzero"]:
        raise OnnxError("Reshape to a size-0 axis (allowzero) is not supported")
    wanted = [x.shape[k] if d == 0 else d for k, d in enumerate(shape)]  # 0 copies the input's
    if None in wanted and -1 in wanted:  # the batch stays -1; the other -1 is computed
        known = int(np.prod([d for d in x.shape if d is not None]))
        rest = int(np.prod([d for d in wanted if d not in (None, -1)]))
        wanted[wanted.index(-1)] = known // rest
    return reshape(x, _target(tuple(None if d == -1 else d for d in wanted)))


@onnx_op("Flatten", 25, axis=1)
def _flatten(b: Read):
    x = b.inputs[0]
    axis = b.attrs["axis"] + x.ndim if b.attrs["axis"] < 0 else b.attrs["axis"]

    def part(dims):
        return None if None in dims else int(np.prod(dims, dtype=np.int64))

    return reshape(x, _target((part(x.shape[:axis]), part(x.shape[axis:]))))


@onnx_op("Transpose", 25, perm=None)
def _transpose(b: Read):
    perm = b.attrs["perm"]
    return transpose(b.inputs[0], None if perm is None else tuple(perm))


@onnx_op("Squeeze", 25, axes=None)
def _squeeze(b: Read):
    x = b.inputs[0]
    axes = b.axes(1)
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    if any(x.shape[a] not in (1, None) for a in axes if b.axes(1) is not None):
        raise OnnxError(f"cannot squeeze axes {axes} of shape {x.shape}: their sizes are not 1")
    kept = tuple(d for k, d in enumerate(x.shape) if not (k in axes and d == 1))
    return reshape(x, _target(kept))


@onnx_op("Unsqueeze", 25, axes=None)
def _unsqueeze(b: Read):
    return expand_dims(b.inputs[0], b.axes(1))


@onnx_op("Expand", 13)
def _expand(b: Read):
    x, shape = b.inputs[0], tuple(int(d) for d in b.static(1, "shape"))
    if None in x.shape:
        raise OnnxError("Expand of an input with an unknown size is not supported")
    full = np.broadcast_shapes(x.shape, shape)
    return x if full == x.shape else F.broadcast_like(x, const(np.zeros(full, dtype=x.dtype)))


def _static_shape(x: Node, what: str) -> tuple:
    if None in x.shape:
        raise OnnxError(f"{what} of an input with an unknown (batch) size is not supported")
    return x.shape


@onnx_op("Shape", 25, start=0, end=None)
def _shape(b: Read):
    shape = _static_shape(b.inputs[0], "Shape")
    return const(np.asarray(shape[b.attrs["start"] : b.attrs["end"]], dtype=np.int64))


onnx_op("Size", 25)(
    lambda b: const(np.asarray(int(np.prod(_static_shape(b.inputs[0], "Size"))), dtype=np.int64))
)


@onnx_op("ConstantOfShape", 25, value=None)
def _constant_of_shape(b: Read):
    shape = tuple(int(d) for d in b.static(0, "shape"))
    fill = b.attrs["value"]
    value = np.zeros(1, np.float32) if fill is None else tensor_array(fill, "its value")
    return const(np.full(shape, value.reshape(-1)[0], dtype=value.dtype))
