"""What each ONNX op is in graphc: one entry per ONNX op type, keyed by that type.

An entry is a builder `(b: Read) -> node or tuple of nodes` written with graphc's own
builders, the attributes it understands with their defaults (any other attribute is
refused, never ignored), and the newest version of the op's schema it was written
against (a model whose opset makes the op newer is refused). Composites where the ONNX op
is one: Gemm, BatchNormalization, LayerNormalization. Results are cast back to the dtype
ONNX gives them where graphc's arithmetic promotes (graphc adds integers in float64).
"""

from . import conv, elementwise, layers, shapes  # noqa: F401  (each registers its entries)
from .table import TABLE, Entry, Read, onnx_op, typed

__all__ = ["TABLE", "Entry", "Read", "onnx_op", "typed"]
