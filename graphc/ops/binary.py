"""Binary elementwise ops with NumPy broadcasting: arithmetic, maximum, comparisons,
where and PReLU. The reverse walker sums cotangents back to each input's shape."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import DtypeError
from ..ir import Node
from .registry import (
    KERNEL,
    MULTILINEAR,
    F,
    OpDef,
    apply,
    broadcast_shapes,
    elementwise,
    register,
    sample_inputs,
    scalar_sympy,
)

_PAIR = sample_inputs((3, 4), (4,))

register(
    OpDef(
        "add",
        2,
        elementwise,
        elementwise=True,
        commutative=True,
        complex_step=True,
        kernel=np.add,
        array_fn="add",
        sympy=KERNEL,
        board=lambda a, b: ("1", "1"),
        vjp=(lambda g, n: g, lambda g, n: g),
        jvp=(lambda t, n: t, lambda t, n: t),
        samples=_PAIR,
    )
)
register(
    OpDef(
        "sub",
        2,
        elementwise,
        elementwise=True,
        complex_step=True,
        kernel=np.subtract,
        array_fn="subtract",
        sympy=KERNEL,
        board=lambda a, b: ("1", "−1"),
        vjp=(lambda g, n: g, lambda g, n: -g),
        jvp=(lambda t, n: t, lambda t, n: -t),
        samples=_PAIR,
    )
)
register(
    OpDef(
        "mul",
        2,
        elementwise,
        elementwise=True,
        commutative=True,
        complex_step=True,
        kernel=np.multiply,
        array_fn="multiply",
        sympy=KERNEL,
        board=lambda a, b: (b, a),
        vjp=(lambda g, n: g * n.inputs[1], lambda g, n: g * n.inputs[0]),
        jvp=MULTILINEAR,
        samples=_PAIR,
    )
)
register(
    OpDef(
        "div",
        2,
        elementwise,
        elementwise=True,
        complex_step=True,
        kernel=np.divide,
        array_fn="divide",
        sympy=KERNEL,
        board=lambda a, b: (f"1/{b}", f"−{a}/{b}²"),
        vjp=(lambda g, n: g / n.inputs[1], lambda g, n: -g * n / n.inputs[1]),
        jvp=(lambda t, n: t / n.inputs[1], lambda t, n: -t * n / n.inputs[1]),
        samples=sample_inputs((3, 4), (4,), positive=True),
    )
)


def _pow_vjp_base(g, n):
    x, y = n.inputs
    return g * y * x ** (y - 1.0)


def _pow_vjp_exponent(g, n):
    return g * n * F.log(n.inputs[0])


register(
    OpDef(
        "pow",
        2,
        elementwise,
        elementwise=True,
        complex_step=True,
        kernel=np.power,
        array_fn="power",
        sympy=KERNEL,
        board=lambda x, y: (f"{y}·{x}^({y}−1)", f"{x}^{y}·log {x}"),
        vjp=(_pow_vjp_base, _pow_vjp_exponent),
        jvp=(lambda t, n: _pow_vjp_base(t, n), lambda t, n: _pow_vjp_exponent(t, n)),
        samples=sample_inputs((3, 4), (4,), positive=True),
    )
)


def _first_wins(n: Node) -> Node:
    return F.greater_equal(n.inputs[0], n.inputs[1])


register(
    OpDef(
        "maximum",
        2,
        elementwise,
        kernel=np.maximum,
        array_fn="maximum",
        sympy=scalar_sympy(sp.Max),
        sympy_head=sp.Max,
        kink=lambda a, b: a - b,
        samples=_PAIR,
        elementwise=True,
        board=lambda a, b: (f"1 if {a} ≥ {b} else 0", f"1 if {b} > {a} else 0"),
        vjp=(
            lambda g, n: F.where(_first_wins(n), g, 0.0),
            lambda g, n: F.where(_first_wins(n), 0.0, g),
        ),
        jvp=(
            lambda t, n: F.where(_first_wins(n), t, 0.0),
            lambda t, n: F.where(_first_wins(n), 0.0, t),
        ),
        doc="elementwise max; at a tie the gradient goes to the first input",
    )
)


def first_positive(n: Node) -> Node:
    """Where the first input of `n` is positive (PReLU's branch), as a graph node."""
    return F.greater(n.inputs[0], 0.0)


register(
    OpDef(
        "prelu",
        2,
        elementwise,
        kernel=lambda x, a: np.where(x > 0, x, a * x),
        decompose=lambda n: F.where(first_positive(n), n.inputs[0], n.inputs[1] * n.inputs[0]),
        sympy=scalar_sympy(lambda x, a: sp.Piecewise((x, x > 0), (a * x, True))),
        kink=lambda x, a: x,
        samples=sample_inputs((3, 4), (4,)),
        elementwise=True,
        flops=2,
        saturates=True,
        activation=(("alpha", 0.25),),
        board=lambda x, alpha: (
            f"prelu'({x}) = 1 if {x} > 0 else {alpha}",
            f"{x} if {x} < 0 else 0",
        ),
        vjp=(
            lambda g, n: F.where(first_positive(n), g, g * n.inputs[1]),
            lambda g, n: F.where(first_positive(n), 0.0, g * n.inputs[0]),
        ),
        jvp=(
            lambda t, n: F.where(first_positive(n), t, t * n.inputs[1]),
            lambda t, n: F.where(first_positive(n), 0.0, t * n.inputs[0]),
        ),
        doc="x where x > 0, alpha * x elsewhere; alpha is learned (scalar or per unit)",
    )
)


def _compare_infer(attrs, a: Node, b: Node):
    return broadcast_shapes(a.shape, b.shape), "bool"


for _name, _kernel, _symbol, _relation in (
    ("greater", np.greater, ">", sp.Gt),
    ("greater_equal", np.greater_equal, ">=", sp.Ge),
    ("less", np.less, "<", sp.Lt),
    ("less_equal", np.less_equal, "<=", sp.Le),
    ("equal", np.equal, "==", sp.Eq),
):
    register(
        OpDef(
            _name,
            2,
            _compare_infer,
            kernel=_kernel,
            array_fn=_name,
            sympy=scalar_sympy(_relation),
            sympy_head=_relation,
            nondiff=True,
            samples=_PAIR,
            label=_symbol,
            elementwise=True,
            commutative=_name == "equal",
            kink=lambda a, b: a - b,
        )
    )  # the output jumps at a == b


def _where_infer(attrs, cond: Node, a: Node, b: Node):
    if cond.dtype != "bool":
        raise DtypeError(f"the condition must be boolean (a comparison), got {cond.dtype}")
    return broadcast_shapes(cond.shape, a.shape, b.shape), elementwise(attrs, a, b)[1]


def where_sympy(c, a, b):
    """where(c, a, b) on SymPy scalars (c a relation, a SymPy or a Python bool)."""
    return sp.Piecewise((a, bool(c) if isinstance(c, (bool, np.bool_)) else c), (b, True))


def _where_samples(rng):
    return [((rng.normal(size=(3, 4)) > 0, rng.normal(size=(3, 4)), rng.normal(size=(4,))), {})]


register(
    OpDef(
        "where",
        3,
        _where_infer,
        kernel=np.where,
        array_fn="where",
        sympy=scalar_sympy(where_sympy),
        samples=_where_samples,
        elementwise=True,
        linear=(1, 2),
        complex_step=True,
        board=lambda c, a, b: ("", f"1 where {c}", f"1 where not {c}"),
        vjp=(
            None,
            lambda g, n: F.where(n.inputs[0], g, 0.0),
            lambda g, n: F.where(n.inputs[0], 0.0, g),
        ),
        jvp=(
            None,
            lambda t, n: F.where(n.inputs[0], t, 0.0),
            lambda t, n: F.where(n.inputs[0], 0.0, t),
        ),
    )
)


def maximum(a, b) -> Node:
    """Elementwise maximum."""
    return apply("maximum", a, b)


def minimum(a, b) -> Node:
    """Elementwise minimum, as -maximum(-a, -b)."""
    return apply("neg", apply("maximum", apply("neg", a), apply("neg", b)))


def where(cond, a, b) -> Node:
    """a where cond holds, b elsewhere (cond comes from a comparison)."""
    return apply("where", cond, a, b)


def prelu(x, alpha) -> Node:
    """Parametric ReLU: x where x > 0, alpha * x elsewhere (alpha is usually a param)."""
    return apply("prelu", x, alpha)


def leaky_relu(x, slope: float = 0.01) -> Node:
    """Leaky ReLU with a fixed slope: prelu with a constant alpha."""
    return apply("prelu", x, float(slope))


def greater(a, b) -> Node:
    """a > b elementwise (boolean)."""
    return apply("greater", a, b)


def equal(a, b) -> Node:
    """a == b elementwise (boolean)."""
    return apply("equal", a, b)
