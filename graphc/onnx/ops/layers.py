"""ONNX's layers: MatMul, Gemm, BatchNormalization, LayerNormalization, Softmax."""

from __future__ import annotations

from ...ir import Node
from ...ops.composite import composite
from ...ops.elementwise import sqrt
from ...ops.reductions import log_softmax, mean, softmax
from ...ops.shape import matmul, reshape, transpose
from ..errors import OnnxError
from .table import Read, float_only, onnx_op, same_type, typed

# ---- linear algebra and layers ------------------------------------------------------------

onnx_op("MatMul", 13)(same_type(lambda b, x, y: matmul(x, y)))


def _gemm_board(a, w, c, alpha, beta, trans_a, trans_b, *, training):
    """Gemm's rule in its inputs' names: A and B are a and w, transposed where asked."""
    ta, tb = trans_a in ("True", "1"), trans_b in ("True", "1")
    alpha = "" if alpha in ("1", "1.0") else f"{alpha} · "  # PyTorch's Linear: 1 and 1
    beta = "" if beta in ("1", "1.0") else f"{beta} · "
    A, B = f"{a}ᵀ" if ta else a, f"{w}ᵀ" if tb else w
    plus = f" + {beta}{c}" if c != "None" and beta not in ("0 · ", "0.0 · ") else ""
    return (
        f"out = {alpha}{A} {B}{plus}, δ = upstream",
        f"∂/∂{a} = {alpha}" + (f"{B} δᵀ" if ta else f"δ {B}ᵀ".replace("ᵀᵀ", "")),
        f"∂/∂{w} = {alpha}" + (f"δᵀ {A}" if tb else f"{A}ᵀ δ".replace("ᵀᵀ", "")),
        *((f"∂/∂{c} = {beta}δ, summed over the axes {c} was broadcast along",) if plus else ()),
    )


@composite(label="Gemm", board=_gemm_board)
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
    with b.scope():
        y = gemm(a, w, c, at["alpha"], at["beta"], at["transA"], at["transB"])
    return typed(y, a.dtype)


def _channels(v: Node, ndim: int) -> Node:
    """A per-channel vector (C,) shaped to broadcast along axis 1 of an ndim-d input."""
    return reshape(v, (-1,) + (1,) * (ndim - 2)) if ndim > 2 else v


def _batch_norm_inference_board(x, scale, bias, mean_, var, eps, *, training):
    """ONNX batch norm's rule in its inputs' names: the statistics are inputs, so a
    gradient reaches them too (a model's are constants, and it stops there)."""
    return (
        f"x̂ = ({x} − {mean_}) / σ, σ = √({var} + {eps}), per channel (axis 1)",
        f"out = x̂ · {scale} + {bias}, δ = upstream, Σ over every axis but 1",
        f"∂/∂{x} = {scale}/σ · δ, ∂/∂{scale} = Σ δ·x̂, ∂/∂{bias} = Σ δ",
        f"∂/∂{mean_} = −Σ {scale}/σ · δ, ∂/∂{var} = −Σ δ·{scale}·x̂ / (2σ²)",
    )


@composite(label="batch norm (inference)", board=_batch_norm_inference_board)
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
    with b.scope():
        return batch_norm_inference(*b.inputs[:5], b.attrs["epsilon"])


def _layer_norm_board(x, scale, bias, axis, eps, *, training):
    """ONNX layer norm's rule in its inputs' names, over the axes from `axis` on."""
    return (
        f"x̂ = ({x} − mean) / σ, σ = √(variance + {eps}), over the axes from {axis} on",
        f"out = x̂ · {scale}{'' if bias == 'None' else f' + {bias}'}, δ = upstream",
        f"∂/∂{x} = (ĝ − mean ĝ − x̂ · mean(ĝ·x̂)) / σ, means over those axes",
        f"ĝ = {scale}·δ: {scale} scales δ before the means",
        f"∂/∂{scale} = Σ δ·x̂, ∂/∂{bias} = Σ δ (Σ over the other axes)",
    )


@composite(label="layer norm", board=_layer_norm_board)
def onnx_layer_norm(x, scale, bias, axis: int, eps: float):
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
    bias = rest[0] if rest else None
    with b.scope():
        y, mu, inv_std = onnx_layer_norm(x, scale, bias, b.attrs["axis"], b.attrs["epsilon"])
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
    same_type(float_only(lambda b, x: softmax(x, axis=_softmax_axes(b, x))))
)
onnx_op("LogSoftmax", 13, axis=None)(
    same_type(float_only(lambda b, x: log_softmax(x, axis=_softmax_axes(b, x))))
)
