"""ONNX's convolution and pooling ops, read with graphc's PyTorch-convention builders:
Conv (1-d and 2-d), MaxPool and AveragePool (2-d), GlobalAveragePool, GlobalMaxPool."""

from __future__ import annotations

import math

from ...ops.conv import conv1d, conv2d
from ...ops.pooling import avg_pool2d, max_pool2d
from ...ops.reductions import mean
from ...ops.registry import apply
from ..errors import OnnxError
from .table import Read, onnx_op, typed

WINDOW = dict(auto_pad=b"NOTSET", kernel_shape=None, pads=None, strides=None)


def _padding(b: Read, size: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    """ONNX's pads ([begins..., ends...]) or auto_pad as ((before, after), ...) per axis."""
    d, mode = len(kernel), b.attrs["auto_pad"]
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode in ("NOTSET", "VALID"):
        pads = b.attrs["pads"] if mode == "NOTSET" and b.attrs["pads"] else [0] * (2 * d)
        return tuple((int(pads[i]), int(pads[d + i])) for i in range(d))
    if mode not in ("SAME_UPPER", "SAME_LOWER") or None in size:
        raise OnnxError(f"auto_pad {mode!r} needs known spatial sizes and SAME_UPPER/LOWER")
    result = []
    for n, k, s, g in zip(size, kernel, stride, dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * g + 1 - n, 0)
        small, large = total // 2, total - total // 2
        result.append((small, large) if mode == "SAME_UPPER" else (large, small))
    return tuple(result)


@onnx_op("Conv", 22, dilations=None, group=1, **WINDOW)
def _conv(b: Read):
    x, w, *rest = b.inputs
    d = x.ndim - 2
    if d not in (1, 2):
        raise OnnxError(f"Conv over {d} spatial axes is not supported (graphc has 1-d and 2-d)")
    kernel = tuple(w.shape[2:])
    stride = tuple(b.attrs["strides"] or (1,) * d)
    dilation = tuple(b.attrs["dilations"] or (1,) * d)
    padding = _padding(b, x.shape[2:], kernel, stride, dilation)
    build = conv2d if d == 2 else conv1d
    with b.scope():
        y = build(x, w, rest[0] if rest else None, stride, padding, dilation, b.attrs["group"])
    return typed(y, x.dtype)


def _pool(b: Read, build, what: str):
    """MaxPool or AveragePool over 2-d images, with ONNX's attributes checked."""
    x = b.inputs[0]
    if x.ndim != 4 or len(b.outputs) > 1:
        raise OnnxError(f"{what} is supported on (N, C, H, W) images with one output")
    if b.attrs.get("ceil_mode") or any(g != 1 for g in b.attrs.get("dilations") or ()):
        raise OnnxError(f"{what} with ceil_mode or dilations is not supported")
    kernel = tuple(b.attrs["kernel_shape"])
    stride = tuple(b.attrs["strides"] or (1, 1))  # ONNX's default stride is 1
    padding = _padding(b, x.shape[2:], kernel, stride, (1, 1))
    if any(lo != hi for lo, hi in padding):
        raise OnnxError(f"{what} with padding that differs before and after is not supported")
    pad = tuple(lo for lo, _ in padding)
    if what == "AveragePool" and any(pad) and not b.attrs["count_include_pad"]:
        raise OnnxError("AveragePool over padding without count_include_pad is not supported")
    return typed(build(x, kernel, stride, pad), x.dtype)


onnx_op("MaxPool", 22, ceil_mode=0, dilations=None, storage_order=0, **WINDOW)(
    lambda b: _pool(b, max_pool2d, "MaxPool")
)
onnx_op("AveragePool", 22, ceil_mode=0, count_include_pad=0, dilations=None, **WINDOW)(
    lambda b: _pool(b, avg_pool2d, "AveragePool")
)


def _spatial(b: Read) -> tuple:
    x = b.inputs[0]
    if x.ndim < 3:
        raise OnnxError(f"{b.node.op_type} needs (N, C, *spatial) input, got {x.shape}")
    return tuple(range(2, x.ndim))


onnx_op("GlobalAveragePool", 22)(
    lambda b: typed(mean(b.inputs[0], axis=_spatial(b), keepdims=True), b.inputs[0].dtype)
)
onnx_op("GlobalMaxPool", 22)(lambda b: apply("max", b.inputs[0], axis=_spatial(b), keepdims=True))
