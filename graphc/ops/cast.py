"""cast: an array converted to another dtype (NumPy's `astype`), as ONNX's Cast and
torch's `.to(dtype)`. Between float dtypes the cotangent is cast back to the input's
dtype; an integer or boolean input gets no gradient."""

from __future__ import annotations

import numpy as np

from ..ir import Node
from .registry import FLOAT_DTYPES, F, OpDef, apply, attr_label, check_dtype, register


def cast_kernel(x, dtype):
    return np.asarray(x).astype(dtype)


def _back(t: Node, n: Node) -> Node | None:
    """The tangent or cotangent `t` in the dtype of the other end of the cast."""
    source = n.inputs[0]
    if source.dtype not in FLOAT_DTYPES:
        return None
    return t if t.dtype == source.dtype else F.cast(t, dtype=source.dtype)


def _forward(t: Node, n: Node) -> Node:
    return t if t.dtype == n.dtype else F.cast(t, dtype=n.dtype)


register(
    OpDef(
        "cast",
        1,
        lambda attrs, x: (x.shape, attrs["dtype"]),
        kernel=cast_kernel,
        normalize=lambda attrs, x: {"dtype": check_dtype(attrs["dtype"])},
        array_fn="asarray",
        array_args=lambda n: ((n.inputs[0],), {"dtype": n.attrs["dtype"]}),
        sympy=lambda x, dtype: x,
        label=attr_label,
        board=lambda x: ("1",),  # the gradient is cast back to the input's dtype
        vjp=(_back,),
        jvp=(_forward,),
        elementwise=True,
        flops=0,
        complex_step=False,
        samples=lambda rng: [((rng.normal(size=(3, 4)),), {"dtype": "float64"})],
        doc="x converted to `dtype` (float to int truncates toward zero, as NumPy's astype)",
    )
)


def cast(x, dtype: str) -> Node:
    """x converted to `dtype` (float64, float32, int64, int32 or bool)."""
    return apply("cast", x, dtype=dtype)
