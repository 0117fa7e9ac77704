"""ONNX tensors as NumPy arrays of the dtypes graphc has."""

from __future__ import annotations

import numpy as np

from .errors import OnnxError, require_onnx

DTYPES = {11: "float64", 1: "float32", 7: "int64", 6: "int32", 9: "bool"}  # TensorProto


def dtype_of(elem_type: int, what: str) -> str:
    """graphc's dtype for an ONNX element type, or an OnnxError naming it."""
    if elem_type in DTYPES:
        return DTYPES[elem_type]
    onnx = require_onnx()
    try:
        name = onnx.TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        name = f"element type {elem_type}"
    raise OnnxError(
        f"{what} has type {name}, which graphc does not support (it has "
        f"{', '.join(DTYPES.values())})"
    )


def tensor_array(tensor, what: str) -> np.ndarray:
    """A TensorProto's values (already loaded external data included)."""
    onnx = require_onnx()
    dtype = dtype_of(tensor.data_type, what)
    try:
        array = onnx.numpy_helper.to_array(tensor)
    except Exception as error:  # a corrupt tensor: sizes that disagree with its data
        raise OnnxError(f"{what}: cannot read its values ({error})") from None
    if array.size == 0 and array.ndim and 0 in array.shape:
        raise OnnxError(f"{what} has a size-0 axis {array.shape}; graphc sizes are positive")
    return np.asarray(array, dtype=dtype)
