"""ONNX in and out: `gc.to_onnx` writes a graph's inference graph as an ONNX model, and
`gc.from_onnx` reads an ONNX model back as graphc nodes.

The exporter is one more renderer of the lowering plan (graphc/codegen/plan.py): every op
decomposes into array-API primitives ("add", "exp", "matmul", "sum", ...), and export.py
spells each primitive in ONNX, so a new op that decomposes into known primitives exports
with no ONNX work. The importer (importer.py) reads each ONNX node through a table keyed
by the ONNX op type (ops.py) whose entries build graphc nodes with the user-facing
builders, composites where the ONNX op is one (Gemm, LayerNormalization).

`onnx` (and `onnxruntime`, to run exported models) is an optional dependency, imported
only when one of these functions is called: `pip install 'graphc[onnx]'`.
"""

from __future__ import annotations

from ..errors import GraphError


class OnnxError(GraphError):
    """An ONNX model graphc cannot read or a graph it cannot write (one line, naming where)."""


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


def to_onnx(outputs, path=None, *, values=None, opset=None, name="graphc"):
    """Write the inference graph of `outputs` as an ONNX model; see export.to_onnx."""
    from .export import to_onnx as export

    return export(outputs, path, values=values, opset=opset, name=name)


def from_onnx(model, *, outputs=None, frozen=()):
    """Read an ONNX model (a path or a ModelProto) as graphc nodes; see importer.from_onnx."""
    from .importer import from_onnx as read

    return read(model, outputs=outputs, frozen=frozen)


__all__ = ["OnnxError", "from_onnx", "require_onnx", "to_onnx"]
