"""The errors of graphc's ONNX support, and the one place the optional onnx package is
imported from."""

from __future__ import annotations

from ..errors import GraphError


class OnnxError(GraphError):
    """An ONNX model graphc cannot read or a graph it cannot write (one line, naming where)."""


class NeedsConstant(OnnxError):
    """A graph input that graphc needs as a constant (a shape or axes given as an input)."""

    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.name = name


def require_onnx():
    """The `onnx` module, or an OnnxError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise OnnxError(
            "ONNX support needs the onnx package, which is not installed: "
            "pip install 'graphc[onnx]' (or: pip install onnx onnxruntime)"
        ) from None
    return onnx
