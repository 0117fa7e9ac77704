"""The table of ONNX op types and what a builder sees of one ONNX node."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...ir import Node, scope
from ...ops.cast import cast
from ...ops.registry import FLOAT_DTYPES
from ..errors import NeedsConstant, OnnxError


@dataclass(frozen=True)
class Entry:
    """How one ONNX op type is read."""

    build: Callable
    attrs: dict  # attribute name -> default (None: no default)
    newest: int  # the newest schema version this entry was written against


TABLE: dict[str, Entry] = {}


def onnx_op(op_type: str, newest: int, **attrs):
    """Register a builder for `op_type` (the decorated function)."""

    def register(build):
        TABLE[op_type] = Entry(build, attrs, newest)
        return build

    return register


class Read:
    """One ONNX node as its builder sees it: graphc inputs (None for an omitted optional
    input), attributes (defaults filled in), static values, the op's schema version."""

    def __init__(self, node, inputs, attrs, version, static, outputs):
        self.node, self.inputs, self.attrs, self.version = node, inputs, attrs, version
        self._static, self.outputs = static, outputs

    def scope(self):
        """A scope named after the ONNX node, for a composite's nodes: two Gemm layers are
        two boxes in a picture, not one."""
        name = (self.node.name or self.node.output[0]).strip("/").replace("/", ".")
        return scope(name or self.node.op_type)

    def static(self, k: int, what: str) -> np.ndarray | None:
        """The value of input `k`, which must be known when the model is read."""
        if k >= len(self.inputs) or self.inputs[k] is None:
            return None
        name = self.node.input[k]
        value = self._static(name)
        if value is None:
            raise NeedsConstant(
                f"node {self.node.name!r} ({self.node.op_type}): its {what} ({name!r}) must "
                "be a constant, an initializer, or given by from_onnx(constants=...): "
                "graphc needs it when the model is read",
                name,
            )
        return value

    def axes(self, k: int, attr: str = "axes", since: int = 13) -> tuple | None:
        """Axes given as an attribute before version `since`, as input `k` from it on."""
        if self.version >= since:
            value = self.static(k, "axes")
            return None if value is None else tuple(int(a) for a in value.reshape(-1))
        value = self.attrs.get(attr)
        return None if value is None else tuple(int(a) for a in value)


def typed(node: Node, dtype: str) -> Node:
    """`node` as `dtype` (graphc promotes integer arithmetic to float64; ONNX keeps it)."""
    return node if node.dtype == dtype else cast(node, dtype)


def same_type(fn):
    """A builder whose result has its first input's dtype, as ONNX's T -> T ops."""

    @functools.wraps(fn)
    def build(b: Read):
        return typed(fn(b, *b.inputs), b.inputs[0].dtype)

    return build


def binary_op(op_type, newest, fn):
    onnx_op(op_type, newest)(same_type(lambda b, x, y: fn(x, y)))


def unary_op(op_type, newest, fn, **attrs):
    onnx_op(op_type, newest, **attrs)(same_type(lambda b, x: fn(b, x)))


def float_only(fn):
    """A unary op graphc defines on floats: integers are refused, not rounded."""

    def build(b: Read, x: Node):
        if x.dtype not in FLOAT_DTYPES:
            raise OnnxError(f"{b.node.op_type} on {x.dtype} is not supported (floats only)")
        return fn(b, x)

    return build
