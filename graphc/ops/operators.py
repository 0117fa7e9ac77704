"""Node's operators: `x @ W + b` builds nodes. The IR knows no ops, so the op library installs
Python's operators, `.T`, indexing, NumPy's ufunc protocol and `with_inputs` on `Node`, as
JAX's lax installs the Tracer's methods.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import GraphError
from ..ir import Node, user_site
from . import binary, elementwise
from .registry import apply, lift

# Python's binary operator -> the op it builds; the reflected form swaps the operands
BINARY = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "truediv": "div",
    "pow": "pow",
    "matmul": "matmul",
}
COMPARISONS = {"gt": "greater", "ge": "greater_equal", "lt": "less", "le": "less_equal"}

# NumPy's arithmetic ufuncs -> the Python operator: array * node is the graph's own operator
UFUNC_OPERATORS = {
    np.add: operator.add,
    np.subtract: operator.sub,
    np.multiply: operator.mul,
    np.true_divide: operator.truediv,
    np.power: operator.pow,
    np.matmul: operator.matmul,
    np.negative: operator.neg,
}


def _binary(op: str):
    def forward(self, other):
        return apply(op, self, other)

    def reflected(self, other):
        return apply(op, other, self)

    return forward, reflected


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy meeting a node: array * node is the graph's own operator (as if NumPy had
    deferred); np.exp(node) and other functions say which gc function to use."""
    apply_operator = UFUNC_OPERATORS.get(ufunc)
    if method != "__call__" or kwargs or apply_operator is None:
        name = ufunc.__name__
        builder = any(callable(getattr(family, name, None)) for family in (elementwise, binary))
        hint = f"use gc.{name}(node)" if builder else "use graphc's ops (gc.*)"
        raise GraphError(f"np.{name} cannot compute a graph node; {hint}, or evaluate it first")
    return apply_operator(*(i if isinstance(i, Node) else lift(i, self) for i in inputs))


def _getitem(self, index) -> Node:
    """x[..., k] or x[:, k]: one entry of the last axis (the only indexing supported)."""
    if (
        isinstance(index, tuple)
        and len(index) == 2
        and (index[0] is Ellipsis or (index[0] == slice(None) and self.ndim == 2))
    ):
        index = index[1]
    elif isinstance(index, tuple) or self.ndim != 1:
        raise GraphError(
            f"{user_site()}: only x[..., k] indexing of the last axis is supported, got {index!r}"
        )
    if not isinstance(index, (int, np.integer)):
        raise GraphError(f"{user_site()}: the index must be an int, got {index!r}")
    return apply("index_last", self, index=int(index))


def _transpose(self) -> Node:
    """The transpose (axes reversed)."""
    return apply("transpose", self)


def _with_inputs(self, inputs) -> Node:
    """A copy of this node with other inputs (same op, attrs, name and site)."""
    return apply(
        self.op, *inputs, _name=self.name, _scope=self.scope, _site=self.site, **dict(self.attrs)
    )


def install(cls: type = Node) -> None:
    """Give `cls` (Node) its operators and the methods that build nodes."""
    for python, op in BINARY.items():
        forward, reflected = _binary(op)
        setattr(cls, f"__{python}__", forward)
        setattr(cls, f"__r{python}__", reflected)
    for python, op in COMPARISONS.items():
        setattr(cls, f"__{python}__", _binary(op)[0])
    cls.__neg__ = lambda self: apply("neg", self)
    cls.__array_ufunc__ = _array_ufunc
    cls.__getitem__ = _getitem
    cls.T = property(_transpose)
    cls.with_inputs = _with_inputs


install()
