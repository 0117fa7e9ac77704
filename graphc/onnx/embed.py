"""The ONNX form an exported training script carries, so that its `--onnx PATH` writes the
trained model without graphc: the inference graph of the predictions with the arrays of the
params and running statistics left out (the script puts its trained arrays back in), zlib-
compressed and base64-encoded as one module-level table."""

from __future__ import annotations

import base64
import zlib

from ..ir import Node, leaves
from .errors import OnnxError, require_onnx
from .export import to_onnx

WIDTH = 76  # characters of one line of the encoded graph


def onnx_table(predictions: Node | None, name: str = "model") -> str:
    """The source of `ONNX_MODEL = {...}`: {"graph": encoded model, "weights": (names the
    script fills in)}, or {"why": the reason there is none}."""
    if predictions is None:
        return _table({"why": "the model names no predictions (gc.export(predictions=...))"})
    try:
        require_onnx()
        model = to_onnx(predictions, name=name)
    except OnnxError as error:
        return _table({"why": str(error)})
    trained = {leaf.name for leaf in leaves(predictions) if leaf.op in ("param", "state")}
    kept = [t for t in model.graph.initializer if t.name not in trained]
    weights = [t.name for t in model.graph.initializer if t.name in trained]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    text = base64.b64encode(zlib.compress(model.SerializeToString(), 9)).decode("ascii")
    lines = "\n".join(f"        {text[i : i + WIDTH]!r}" for i in range(0, len(text), WIDTH))
    return (
        "# The model's predictions as ONNX without its weights (zlib, base64), for --onnx PATH:\n"
        "# the script adds the trained arrays of `weights` back as initializers.\n"
        f'ONNX_MODEL = {{\n    "graph": (\n{lines}\n    ),\n    "weights": {tuple(weights)!r},\n}}'
    )


def _table(entries: dict) -> str:
    return f"ONNX_MODEL = {entries!r}  # no ONNX form: --onnx says why"
