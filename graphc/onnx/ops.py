"""What each ONNX op is in graphc: one entry per ONNX op type, keyed by that type.

An entry is a builder `(b: Read) -> node or tuple of nodes` written with graphc's own
builders, the attributes it understands with their defaults (any other attribute is
refused, never ignored), and the newest version of the op's schema it was written
against (a model whose opset makes the op newer is refused). Composites where the ONNX op
is one: Gemm, BatchNormalization, LayerNormalization. Results are cast back to the dtype
ONNX gives them where graphc's arithmetic promotes (graphc adds integers in float64).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ..ir import Node, composite
from ..ops.binary import leaky_relu, maximum, minimum, prelu, where
from ..ops.cast import cast
from ..ops.elementwise import abs as absolute
from ..ops.elementwise import exp, log, relu, sigmoid, sign, softplus, sqrt, tanh
from ..ops.leaves import const
from ..ops.reductions import log_softmax, logsumexp, mean, softmax
from ..ops.reductions import sum as reduce_sum
from ..ops.registry import FLOAT_DTYPES, F, apply
from ..ops.shape import expand_dims, matmul, reshape, transpose
from . import OnnxError


@dataclass(frozen=True)
class Entry:
    """How one ONNX op type is read."""

    build: Callable
    attrs: dict  # attribute name -> default (None: no default)
    newest: int  # the newest schema version this entry was written against


TABLE: dict[str, Entry] = {}


def onnx_op(op_type: str, newest: int, **attrs):
    """Register a builder for `op_type` (the decorated function)."""

    def register(build):
        TABLE[op_type] = Entry(build, attrs, newest)
        return build

    return register


class Read:
    """One ONNX node as its builder sees it: graphc inputs (None for an omitted optional
    input), attributes (defaults filled in), static values, the op's schema version."""

    def __init__(self, node, inputs, attrs, version, static, outputs):
        self.node, self.inputs, self.attrs, self.version = node, inputs, attrs, version
        self._static, self.outputs = static, outputs

    def static(self, k: int, what: str) -> np.ndarray | None:
        """The value of input `k`, which must be known when the model is read."""
        if k >= len(self.inputs) or self.inputs[k] is None:
            return None
        name = self.node.input[k]
        value = self._static(name)
        if value is None:
            from .importer import NeedsConstant

            raise NeedsConstant(
                f"node {self.node.name!r} ({self.node.op_type}): its {what} ({name!r}) must "
                "be a constant, an initializer, or given by from_onnx(constants=...): "
                "graphc needs it when the model is read",
                name,
            )
        return value

    def axes(self, k: int, attr: str = "axes", since: int = 13) -> tuple | None:
        """Axes given as an attribute before version `since`, as input `k` from it on."""
        if self.version >= since:
            value = self.static(k, "axes")
            return None if value is None else tuple(int(a) for a in value.reshape(-1))
        value = self.attrs.get(attr)
        return None if value is None else tuple(int(a) for a in value)


def typed(node: Node, dtype: str) -> Node:
    """`node` as `dtype` (graphc promotes integer arithmetic to float64; ONNX keeps it)."""
    return node if node.dtype == dtype else cast(node, dtype)


def _same_type(fn):
    """A builder whose result has its first input's dtype, as ONNX's T -> T ops."""

    @functools.wraps(fn)
    def build(b: Read):
        return typed(fn(b, *b.inputs), b.inputs[0].dtype)

    return build


def _binary(op_type, newest, fn):
    onnx_op(op_type, newest)(_same_type(lambda b, x, y: fn(x, y)))


def _unary(op_type, newest, fn, **attrs):
    onnx_op(op_type, newest, **attrs)(_same_type(lambda b, x: fn(b, x)))


def _float_only(fn):
    """A unary op graphc defines on floats: integers are refused, not rounded."""

    def build(b: Read, x: Node):
        if x.dtype not in FLOAT_DTYPES:
            raise OnnxError(f"{b.node.op_type} on {x.dtype} is not supported (floats only)")
        return fn(b, x)

    return build


# ---- elementwise -----------------------------------------------------------------------

_binary("Add", 14, lambda x, y: x + y)
_binary("Sub", 14, lambda x, y: x - y)
_binary("Mul", 14, lambda x, y: x * y)
_binary("Div", 14, lambda x, y: x / y)  # integers: the cast back truncates toward zero
_binary("Pow", 15, lambda x, y: x**y)
_unary("Neg", 13, lambda b, x: -x)
_unary("Abs", 13, lambda b, x: absolute(x))
_unary("Sign", 13, lambda b, x: sign(x))
_unary("Exp", 13, _float_only(lambda b, x: exp(x)))
_unary("Log", 13, _float_only(lambda b, x: log(x)))
_unary("Sqrt", 13, _float_only(lambda b, x: sqrt(x)))
_unary("Tanh", 13, _float_only(lambda b, x: tanh(x)))
_unary("Sigmoid", 13, _float_only(lambda b, x: sigmoid(x)))
_unary("Softplus", 22, _float_only(lambda b, x: softplus(x)))
_unary("Reciprocal", 13, _float_only(lambda b, x: 1.0 / x))
_unary("Relu", 14, lambda b, x: relu(x) if x.dtype in FLOAT_DTYPES else maximum(x, 0))
_unary("Softsign", 22, _float_only(lambda b, x: x / (1.0 + absolute(x))))
_unary("LeakyRelu", 16, _float_only(lambda b, x: leaky_relu(x, b.attrs["alpha"])), alpha=0.01)
_unary(
    "ThresholdedRelu",
    22,
    _float_only(lambda b, x: where(F.greater(x, b.attrs["alpha"]), x, 0.0)),
    alpha=1.0,
)
_unary(
    "Elu",
    22,
    _float_only(lambda b, x: where(F.greater(x, 0.0), x, b.attrs["alpha"] * (exp(x) - 1.0))),
    alpha=1.0,
)
_unary(
    "Selu",
    22,
    _float_only(
        lambda b, x: (
            b.attrs["gamma"] * where(F.greater(x, 0.0), x, b.attrs["alpha"] * (exp(x) - 1.0))
        )
    ),
    alpha=1.67326319217681884765625,
    gamma=1.05070102214813232421875,
)


def _hard_sigmoid(x: Node, alpha: float, beta: float) -> Node:
    return maximum(minimum(alpha * x + beta, 1.0), 0.0)


_unary(
    "HardSigmoid",
    22,
    _float_only(lambda b, x: _hard_sigmoid(x, b.attrs["alpha"], b.attrs["beta"])),
    alpha=0.2,
    beta=0.5,
)
_unary("HardSwish", 22, _float_only(lambda b, x: x * _hard_sigmoid(x, 1.0 / 6.0, 0.5)))
onnx_op("PRelu", 16)(_same_type(lambda b, x, slope: prelu(x, slope)))

for _op, _fn in (
    ("Equal", F.equal),
    ("Greater", F.greater),
    ("Less", F.less),
    ("GreaterOrEqual", F.greater_equal),
    ("LessOrEqual", F.less_equal),
):
    onnx_op(_op, 19 if _op == "Equal" else 16 if "Or" in _op else 13)(
        functools.partial(lambda fn, b: fn(*b.inputs), _fn)
    )


@onnx_op("Where", 16)
def _where(b: Read):
    c, x, y = b.inputs
    return typed(where(c, x, y), x.dtype)


def _fold(fn, b: Read) -> Node:
    result = b.inputs[0]
    for other in b.inputs[1:]:
        result = fn(result, other)
    return typed(result, b.inputs[0].dtype)


onnx_op("Max", 13)(functools.partial(_fold, maximum))
onnx_op("Min", 13)(functools.partial(_fold, minimum))
onnx_op("Sum", 13)(functools.partial(_fold, lambda x, y: x + y))


@onnx_op("Mean", 13)
def _mean(b: Read):
    total = b.inputs[0]
    for other in b.inputs[1:]:
        total = total + other
    return total / float(len(b.inputs)) if len(b.inputs) > 1 else total


@onnx_op("Clip", 13, min=None, max=None)
def _clip(b: Read):
    x = b.inputs[0]
    if b.version < 11:
        low, high = b.attrs["min"], b.attrs["max"]
    else:
        low, high = (list(b.inputs[1:]) + [None, None])[:2]
    result = x if low is None else maximum(x, low)
    result = result if high is None else minimum(result, high)
    return typed(result, x.dtype)


@onnx_op("Cast", 28, to=None, saturate=1, round_mode=b"up")
def _cast(b: Read):
    from .importer import dtype_of  # the one table of element types

    return cast(b.inputs[0], dtype_of(b.attrs["to"], "Cast's target type"))


onnx_op("CastLike", 25, saturate=1, round_mode=b"up")(
    lambda b: cast(b.inputs[0], b.inputs[1].dtype)
)
onnx_op("Identity", 25)(lambda b: b.inputs[0])


@onnx_op("Dropout", 22, seed=None, ratio=0.5)
def _dropout(b: Read):
    training = b.static(2, "training_mode")
    if training is not None and bool(training):
        raise OnnxError("Dropout in training mode (random masks) is not supported")
    x = b.inputs[0]
    if len(b.outputs) > 1:  # the mask: every unit kept at inference
        if None in x.shape:
            raise OnnxError("Dropout's mask output needs a static input shape")
        return x, const(np.ones(x.shape, dtype=bool))
    return x


@onnx_op(
    "Constant",
    25,
    value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
)
def _constant(b: Read):
    from .importer import tensor_array

    given = {k: v for k, v in b.attrs.items() if v is not None}
    if len(given) != 1:
        raise OnnxError("Constant needs exactly one of value, value_float(s), value_int(s)")
    ((kind, value),) = given.items()
    if kind == "value":
        return const(tensor_array(value, "Constant's value"))
    dtype = "float32" if "float" in kind else "int64"
    return const(np.asarray(value, dtype=dtype))


# ---- linear algebra and layers ------------------------------------------------------------

onnx_op("MatMul", 13)(_same_type(lambda b, x, y: matmul(x, y)))


@composite(label="Gemm", board=("α · A'B' + β · C",))
def gemm(a, w, c, alpha: float, beta: float, trans_a: bool, trans_b: bool) -> Node:
    """ONNX's Gemm: alpha * op(A) @ op(B) + beta * C (op transposes when asked)."""
    a = transpose(a) if trans_a else a
    w = transpose(w) if trans_b else w
    y = matmul(a, w)
    y = y * alpha if alpha != 1.0 else y
    if c is not None and beta != 0.0:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@onnx_op("Gemm", 13, alpha=1.0, beta=1.0, transA=0, transB=0)
def _gemm(b: Read):
    a, w, *rest = b.inputs
    at = b.attrs
    c = rest[0] if rest else None
    return typed(gemm(a, w, c, at["alpha"], at["beta"], at["transA"], at["transB"]), a.dtype)


def _channels(v: Node, ndim: int) -> Node:
    """A per-channel vector (C,) shaped to broadcast along axis 1 of an ndim-d input."""
    return reshape(v, (-1,) + (1,) * (ndim - 2)) if ndim > 2 else v


@composite(label="batch norm (inference)", board=("(x − μ) / √(σ² + ε) · γ + β",))
def batch_norm_inference(x, scale, bias, mean_, var, eps: float) -> Node:
    """ONNX's BatchNormalization at inference: normalize with the given statistics along
    axis 1 (the channels)."""
    n = x.ndim
    norm = (x - _channels(mean_, n)) / sqrt(_channels(var, n) + eps)
    return norm * _channels(scale, n) + _channels(bias, n)


@onnx_op("BatchNormalization", 15, epsilon=1e-5, momentum=0.9, training_mode=0, spatial=1)
def _batch_norm(b: Read):
    if b.attrs["training_mode"] or len(b.outputs) > 1:
        raise OnnxError("BatchNormalization in training mode is not supported")
    if not b.attrs["spatial"]:
        raise OnnxError("BatchNormalization with spatial=0 is not supported")
    return batch_norm_inference(*b.inputs[:5], b.attrs["epsilon"])


@composite(label="layer norm", board=("(x − mean) / √(var + ε) · γ + β over the last axes",))
def layer_norm(x, scale, bias, axis: int, eps: float):
    """ONNX's LayerNormalization: normalize over the axes from `axis` on; also the mean
    and the inverse standard deviation (ONNX's optional outputs)."""
    axes = tuple(range(axis % x.ndim, x.ndim))
    mu = mean(x, axis=axes, keepdims=True)
    centered = x - mu
    inv_std = 1.0 / sqrt(mean(centered * centered, axis=axes, keepdims=True) + eps)
    y = centered * inv_std * scale
    return (y + bias if bias is not None else y), mu, inv_std


@onnx_op("LayerNormalization", 17, axis=-1, epsilon=1e-5, stash_type=1)
def _layer_norm(b: Read):
    x, scale, *rest = b.inputs
    y, mu, inv_std = layer_norm(
        x, scale, rest[0] if rest else None, b.attrs["axis"], b.attrs["epsilon"]
    )
    return (y, mu, inv_std)[: len(b.outputs)]


def _softmax_axes(b: Read, x: Node):
    """Softmax's axes: one axis from version 13, before it every axis from `axis` on (the
    input coerced to 2-d)."""
    axis = b.attrs["axis"]
    if axis is None:
        axis = -1 if b.version >= 13 else 1
    if not -x.ndim <= axis < x.ndim:
        raise OnnxError(f"axis {axis} is out of range for a {x.ndim}-d input")
    if b.version >= 13:
        return axis
    axes = tuple(range(axis % x.ndim, x.ndim))
    return axes[0] if len(axes) == 1 else axes


onnx_op("Softmax", 13, axis=None)(
    _same_type(_float_only(lambda b, x: softmax(x, axis=_softmax_axes(b, x))))
)
onnx_op("LogSoftmax", 13, axis=None)(
    _same_type(_float_only(lambda b, x: log_softmax(x, axis=_softmax_axes(b, x))))
)


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
    from .importer import tensor_array

    shape = tuple(int(d) for d in b.static(0, "shape"))
    fill = b.attrs["value"]
    value = np.zeros(1, np.float32) if fill is None else tensor_array(fill, "its value")
    return const(np.full(shape, value.reshape(-1)[0], dtype=value.dtype))
