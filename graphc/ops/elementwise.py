"""Unary elementwise ops. Each rule multiplies by the local derivative, so the same rule
serves as vjp and jvp (the Jacobian is diagonal)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..ir import Node
from .registry import KERNEL, F, OpDef, apply, float_like, register, sample_inputs, scalar_sympy


def sigmoid_kernel(x):
    """Logistic sigmoid that never overflows: exp is only taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_parts(x: Node) -> Node:
    """sigmoid_kernel's steps as ops, for lowering."""
    e = F.exp(F.neg(F.abs(x)))
    return F.where(F.greater_equal(x, 0.0), 1.0 / (1.0 + e), e / (1.0 + e))


def _complex_sigmoid(z):
    """sigmoid_kernel for complex-step differentiation: the branch is picked by the real part,
    and each branch is the same analytic function."""
    e = np.exp(-np.where(z.real >= 0, z, -z))
    return np.where(z.real >= 0, 1 / (1 + e), e / (1 + e))


def _complex_softplus(z):
    """log(1 + e**z) without overflow for complex z (np.logaddexp takes only reals)."""
    return np.where(z.real > 0, z + np.log1p(np.exp(-z)), np.log1p(np.exp(z)))


def _unary(name, array_fn, rule, sympy, samples=None, **more):
    """An elementwise op of one input whose one rule serves as vjp and jvp."""
    rules = None if rule is None else (rule,)
    register(
        OpDef(
            name,
            1,
            float_like,
            vjp=rules,
            jvp=rules,
            sympy=sympy,
            array_fn=array_fn,
            samples=samples or sample_inputs((3, 4)),
            nondiff=rule is None,
            elementwise=True,
            **more,
        )
    )


_unary(
    "neg",
    "negative",
    lambda g, n: -g,
    KERNEL,
    board=lambda x: ("−1",),
    kernel=np.negative,
    doc="-x",
    complex_step=True,
    linear=(0,),
)
_unary(
    "exp",
    "exp",
    lambda g, n: g * n,
    scalar_sympy(sp.exp),
    board=lambda x: (f"exp({x})",),
    sympy_head=sp.exp,
    kernel=np.exp,
    complex_step=True,
)
_unary(
    "log",
    "log",
    lambda g, n: g / n.inputs[0],
    scalar_sympy(sp.log),
    board=lambda x: (f"1/{x}",),
    sympy_head=sp.log,
    samples=sample_inputs((3, 4), positive=True),
    kernel=np.log,
    complex_step=True,
)
_unary(
    "sqrt",
    "sqrt",
    lambda g, n: g / (2.0 * n),
    scalar_sympy(sp.sqrt),
    board=lambda x: (f"1/(2√{x})",),
    samples=sample_inputs((3, 4), positive=True),
    kernel=np.sqrt,
    complex_step=True,
)
_unary(
    "abs",
    "abs",
    lambda g, n: g * F.sign(n.inputs[0]),
    scalar_sympy(sp.Abs),
    board=lambda x: (f"sign({x})",),
    sympy_head=sp.Abs,
    kink=lambda x: x,
    kernel=np.abs,
)
_unary(
    "sign",
    "sign",
    None,
    scalar_sympy(sp.sign),
    sympy_head=sp.sign,
    kernel=np.sign,
    kink=lambda x: x,
    doc="-1, 0 or 1; its derivative is zero wherever it exists",
)
_unary(
    "tanh",
    "tanh",
    lambda g, n: g * (1.0 - n * n),
    scalar_sympy(sp.tanh),
    board=lambda x: (f"1 − tanh²({x})",),
    sympy_head=sp.tanh,
    kernel=np.tanh,
    complex_step=True,
    saturates=True,
    activation=True,
)
_unary(
    "sigmoid",
    None,
    lambda g, n: g * n * (1.0 - n),
    scalar_sympy(lambda x: 1 / (1 + sp.exp(-x))),
    board=lambda x: (f"σ({x})(1 − σ({x}))",),
    kernel=sigmoid_kernel,
    decompose=lambda n: _sigmoid_parts(n.inputs[0]),
    complex_step=_complex_sigmoid,
    flops=4,
    saturates=True,
    activation=True,
)
_unary(
    "relu",
    None,
    lambda g, n: F.where(F.greater(n.inputs[0], 0.0), g, 0.0),
    scalar_sympy(lambda x: sp.Piecewise((x, x > 0), (0, True))),
    board=lambda x: (f"relu'({x}) = 1 if {x} > 0 else 0",),
    kink=lambda x: x,
    kernel=lambda x: np.maximum(x, 0),
    saturates=True,
    decompose=lambda n: F.maximum(n.inputs[0], 0.0),
    activation=True,
)
_unary(
    "softplus",
    "logaddexp",
    lambda g, n: g * F.sigmoid(n.inputs[0]),
    scalar_sympy(lambda x: sp.log(1 + sp.exp(x))),
    board=lambda x: (f"σ({x})",),
    kernel=lambda x: np.logaddexp(0, x),
    array_args=lambda n: ((0, n.inputs[0]), {}),
    complex_step=_complex_softplus,
    flops=3,
    saturates=True,
    doc="log(1 + e**x), computed without overflow",
    activation=True,
)


def exp(x) -> Node:
    """e**x elementwise."""
    return apply("exp", x)


def log(x) -> Node:
    """Natural logarithm elementwise."""
    return apply("log", x)


def sqrt(x) -> Node:
    """Square root elementwise."""
    return apply("sqrt", x)


def abs(x) -> Node:  # noqa: A001 - the public name is gc.abs
    """|x| elementwise."""
    return apply("abs", x)


def sign(x) -> Node:
    """-1, 0 or 1 elementwise."""
    return apply("sign", x)


def tanh(x) -> Node:
    """Hyperbolic tangent elementwise."""
    return apply("tanh", x)


def sigmoid(x) -> Node:
    """Logistic sigmoid 1 / (1 + e**-x), stable for large |x|."""
    return apply("sigmoid", x)


def relu(x) -> Node:
    """max(x, 0) elementwise."""
    return apply("relu", x)


def softplus(x) -> Node:
    """log(1 + e**x) elementwise, stable for large |x|."""
    return apply("softplus", x)
