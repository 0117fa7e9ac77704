"""gc.export: graphc.codegen's training module, carrying its model's ONNX form so that the
script's `--onnx PATH` writes the trained model (graphc.onnx makes that form; codegen knows
nothing of ONNX)."""

from __future__ import annotations

import functools
import inspect

from .codegen import export as export_module
from .onnx.embed import onnx_table


@functools.wraps(export_module)
def export(loss, path, optimizer="sgd", **options) -> str:
    return export_module(loss, path, optimizer, tail=onnx_table, **options)


# the signature users see: codegen's, without the `tail` this function fills in
_shown = inspect.signature(export_module)
export.__signature__ = _shown.replace(
    parameters=[p for p in _shown.parameters.values() if p.name != "tail"]
)
