"""ONNX's elementwise ops, comparisons, casts, constants and identities."""

from __future__ import annotations

import functools

import numpy as np

from ...ir import Node
from ...ops.binary import leaky_relu, maximum, minimum, prelu, where
from ...ops.cast import cast
from ...ops.elementwise import abs as absolute
from ...ops.elementwise import exp, log, relu, sigmoid, sign, softplus, sqrt, tanh
from ...ops.leaves import const
from ...ops.registry import FLOAT_DTYPES, F
from ..errors import OnnxError
from ..tensors import dtype_of, tensor_array
from .table import Read, binary_op, float_only, onnx_op, same_type, typed, unary_op

# ---- elementwise -----------------------------------------------------------------------

binary_op("Add", 14, lambda x, y: x + y)
binary_op("Sub", 14, lambda x, y: x - y)
binary_op("Mul", 14, lambda x, y: x * y)
binary_op("Div", 14, lambda x, y: x / y)  # integers: the cast back truncates toward zero
binary_op("Pow", 15, lambda x, y: x**y)
unary_op("Neg", 13, lambda b, x: -x)
unary_op("Abs", 13, lambda b, x: absolute(x))
unary_op("Sign", 13, lambda b, x: sign(x))
unary_op("Exp", 13, float_only(lambda b, x: exp(x)))
unary_op("Log", 13, float_only(lambda b, x: log(x)))
unary_op("Sqrt", 13, float_only(lambda b, x: sqrt(x)))
unary_op("Tanh", 13, float_only(lambda b, x: tanh(x)))
unary_op("Sigmoid", 13, float_only(lambda b, x: sigmoid(x)))
unary_op("Softplus", 22, float_only(lambda b, x: softplus(x)))
unary_op("Reciprocal", 13, float_only(lambda b, x: 1.0 / x))
unary_op("Relu", 14, lambda b, x: relu(x) if x.dtype in FLOAT_DTYPES else maximum(x, 0))
unary_op("Softsign", 22, float_only(lambda b, x: x / (1.0 + absolute(x))))
unary_op("LeakyRelu", 16, float_only(lambda b, x: leaky_relu(x, b.attrs["alpha"])), alpha=0.01)
unary_op(
    "ThresholdedRelu",
    22,
    float_only(lambda b, x: where(F.greater(x, b.attrs["alpha"]), x, 0.0)),
    alpha=1.0,
)
unary_op(
    "Elu",
    22,
    float_only(lambda b, x: where(F.greater(x, 0.0), x, b.attrs["alpha"] * (exp(x) - 1.0))),
    alpha=1.0,
)
unary_op(
    "Selu",
    22,
    float_only(
        lambda b, x: (
            b.attrs["gamma"] * where(F.greater(x, 0.0), x, b.attrs["alpha"] * (exp(x) - 1.0))
        )
    ),
    alpha=1.67326319217681884765625,
    gamma=1.05070102214813232421875,
)


def _hard_sigmoid(x: Node, alpha: float, beta: float) -> Node:
    return maximum(minimum(alpha * x + beta, 1.0), 0.0)


unary_op(
    "HardSigmoid",
    22,
    float_only(lambda b, x: _hard_sigmoid(x, b.attrs["alpha"], b.attrs["beta"])),
    alpha=0.2,
    beta=0.5,
)
unary_op("HardSwish", 22, float_only(lambda b, x: x * _hard_sigmoid(x, 1.0 / 6.0, 0.5)))
onnx_op("PRelu", 16)(same_type(lambda b, x, slope: prelu(x, slope)))

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
    given = {k: v for k, v in b.attrs.items() if v is not None}
    if len(given) != 1:
        raise OnnxError("Constant needs exactly one of value, value_float(s), value_int(s)")
    ((kind, value),) = given.items()
    if kind == "value":
        return const(tensor_array(value, "Constant's value"))
    dtype = "float32" if "float" in kind else "int64"
    return const(np.asarray(value, dtype=dtype))
