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

from .errors import NeedsConstant, OnnxError, require_onnx


def to_onnx(outputs, path=None, *, values=None, opset=None, name="graphc"):
    """Write the inference graph of `outputs` as an ONNX model; see export.to_onnx."""
    from .export import to_onnx as export

    return export(outputs, path, values=values, opset=opset, name=name)


def from_onnx(model, *, outputs=None, frozen=(), constants=None):
    """Read an ONNX model (a path or a ModelProto) as graphc nodes; see importer.from_onnx."""
    from .importer import from_onnx as read

    return read(model, outputs=outputs, frozen=frozen, constants=constants)


__all__ = ["NeedsConstant", "OnnxError", "from_onnx", "require_onnx", "to_onnx"]
