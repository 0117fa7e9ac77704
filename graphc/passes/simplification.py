"""Algebraic simplification: identities, and the zeros and broadcasts reverse mode leaves.

Every rule keeps values, with these documented choices:
- A constant zero is a *strong* zero (as JAX's symbolic zeros are): `x*0`, `0/x`, and any
  linear op of zeros become zeros even where x is inf or nan, where IEEE would give nan. Reverse
  mode multiplies zero cotangents into values that may overflow; a nan there is noise, not a
  gradient. Zeros are only built with the static and run-time shape of the node they replace.
- `x + 0 -> x` differs from IEEE only in the sign of a zero (-0.0 + 0.0 is +0.0); they compare
  equal.
- `exp(log(x)) -> x` assumes x is in log's domain (x >= 0); for x < 0 the original is nan.
- Dropping a `broadcast_like` assumes graphc's batch convention (see `shapes.py`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ..ir import Node
from ..ops.leaves import const
from ..ops.registry import MULTILINEAR, get
from .pattern import P, Rule, build, const_value, graph_rewrite, is_all, number, var
from .shapes import same_runtime_shape

X, Y = var("x"), var("y")
ZERO, ONE = number(0.0), number(1.0)
SMALL_ZEROS = 4096  # elements: a const of zeros this small may be made from nothing


def zeros_for(node: Node) -> Node | None:
    """Zeros with `node`'s shape and dtype, made without reading any value."""
    for x in node.inputs:
        if same_runtime_shape(x, node) and x.dtype == node.dtype:
            return (
                x
                if is_all(x, 0.0)
                else build("broadcast_like", const(np.zeros((), dtype=node.dtype)), x)
            )
    if None not in node.shape and math.prod(node.shape) <= SMALL_ZEROS:
        return const(np.zeros(node.shape, dtype=node.dtype))
    return None


def _only_zeros_flow(node: Node) -> bool:
    """True when `node` is linear in inputs that are all zeros (so it is zeros): the op's
    `linear` inputs all zeros, or any input of a multilinear op."""
    opdef = get(node.op)
    if opdef.linear:
        return all(is_all(node.inputs[k], 0.0) for k in opdef.linear)
    return opdef.jvp == MULTILINEAR and any(is_all(x, 0.0) for x in node.inputs)


def _compose(x: Node, outer: Node, **_) -> Node:
    axes = tuple(x.attrs["axes"][a] for a in outer.attrs["axes"])
    inner = x.inputs[0]
    return inner if axes == tuple(range(len(axes))) else build("transpose", inner, axes=axes)


def _negated_const(c: Node) -> Node | None:
    value = const_value(c)
    return None if value is None or c.op != "const" else const(-value)


def _scaled(op: str):
    def rewrite(c: Node, x: Node, **_) -> Node | None:
        negated = _negated_const(c)
        return None if negated is None else build(op, negated, x)

    return rewrite


def _power_of_two(node: Node) -> bool:
    value = const_value(node)
    return (
        value is not None
        and node.op == "const"
        and value.dtype.kind == "f"
        and bool(np.all(np.frexp(np.abs(value))[0] == 0.5))
    )


def _fold_factors(c1: Node, c2: Node, x: Node, **_) -> Node | None:
    # exact only when one factor is a power of two: then no rounding is moved
    if c2.op != "const" or const_value(c2) is None or not (_power_of_two(c1) or _power_of_two(c2)):
        return None
    return build("mul", const(const_value(c1) * const_value(c2)), x)


def _drop_broadcast(node: Node, **_) -> Node | None:
    inputs = [x.inputs[0] if x.op == "broadcast_like" else x for x in node.inputs]
    return build(node.op, *inputs, **dict(node.attrs))


def _elementwise_of_broadcast(node: Node) -> bool:
    return get(node.op).elementwise and any(x.op == "broadcast_like" for x in node.inputs)


def _shaped_scalar(x: Node, node: Node) -> bool:
    """A one-element const of shape (1, ..., 1) beside an operand with as many axes: the
    op's result keeps its shape when the const is a plain scalar."""
    value = const_value(x) if x.op == "const" else None
    return (
        value is not None
        and value.ndim > 0
        and value.size == 1
        and x.dtype == node.dtype
        and any(y is not x and y.ndim >= x.ndim for y in node.inputs)
    )


def _has_shaped_scalar(node: Node) -> bool:
    return get(node.op).elementwise and any(_shaped_scalar(x, node) for x in node.inputs)


def _scalar_consts(node: Node, **_) -> Node:
    inputs = [
        const(const_value(x).reshape(())) if _shaped_scalar(x, node) else x for x in node.inputs
    ]
    return build(node.op, *inputs, **dict(node.attrs))


_SAME_COND = P("where", var("cond"), X, ZERO), P("where", var("cond"), ZERO, Y)

RULES = [
    # x*1 -> x
    Rule("x*1", P("mul", X, ONE), lambda x, **_: x),
    # x/1 -> x
    Rule("x/1", P("div", X, ONE), lambda x, **_: x),
    # x+0 -> x
    Rule("x+0", P("add", X, ZERO), lambda x, **_: x),
    # x-0 -> x
    Rule("x-0", P("sub", X, ZERO), lambda x, **_: x),
    # 0-x -> -x
    Rule("0-x", P("sub", ZERO, X), lambda x, **_: build("neg", x)),
    # x*0 -> 0 (strong zero)
    Rule("x*0", P("mul", X, ZERO), lambda node, **_: zeros_for(node)),
    # 0/x -> 0 (strong zero)
    Rule("0/x", P("div", ZERO, X), lambda node, **_: zeros_for(node)),
    # f(0, ..., 0) -> 0 for f linear in its zero inputs: neg, sum, sum_to, matmul, where(c,0,0)
    Rule("linear(0)", P(None, test=_only_zeros_flow), lambda node, **_: zeros_for(node)),
    # where(c, x, 0) + where(c, 0, y) -> where(c, x, y)
    Rule("where+where", P("add", *_SAME_COND), lambda cond, x, y, **_: build("where", cond, x, y)),
    # where(c, x, x) -> x ; select_mode(x, x) -> x
    Rule("where(c,x,x)", P("where", var("cond"), X, X), lambda x, **_: x),
    Rule("select(x,x)", P("select_mode", X, X), lambda x, **_: x),
    # c*y + c*y -> (2c)*y for a const c (exact: doubling moves no rounding)
    Rule(
        "cy+cy",
        P(
            "add",
            P("mul", P("const", bind="c", test=lambda n: const_value(n) is not None), Y, bind="x"),
            X,
        ),
        lambda c, y, **_: build("mul", const(2 * const_value(c)), y),
    ),
    # c1*(c2*x) -> (c1*c2)*x when c1 or c2 is a power of two (exact)
    Rule(
        "c*(c*x)",
        P(
            "mul",
            P("const", bind="c1", test=lambda n: const_value(n) is not None),
            P("mul", P("const", bind="c2"), X),
        ),
        _fold_factors,
    ),
    # -(-x) -> x
    Rule("--x", P("neg", P("neg", X)), lambda x, **_: x),
    # -(c*x) -> (-c)*x for a const c (negation is exact)
    Rule("-(c*x)", P("neg", P("mul", P("const", bind="c"), X)), _scaled("mul")),
    # -(c/x) -> (-c)/x for a const c
    Rule("-(c/x)", P("neg", P("div", P("const", bind="c"), X)), _scaled("div")),
    # -((-x)/y) -> x/y (negation is exact): SGD's scale -(-lr/batch) in the fused backward
    Rule("-(-x/y)", P("neg", P("div", P("neg", X), Y)), lambda x, y, **_: build("div", x, y)),
    # x + -y -> x - y
    Rule("x+-y", P("add", X, P("neg", Y)), lambda x, y, **_: build("sub", x, y)),
    # x - -y -> x + y
    Rule("x--y", P("sub", X, P("neg", Y)), lambda x, y, **_: build("add", x, y)),
    # exp(log(x)) -> x (x in log's domain)
    Rule("exp(log x)", P("exp", P("log", X)), lambda x, **_: x),
    # transpose(transpose(x, p), q) -> transpose(x, p[q]), or x when that is the identity
    Rule("T(T(x))", P("transpose", P("transpose", bind="x"), bind="outer"), _compose),
    # transpose(x, identity) -> x
    Rule(
        "T(x)=x",
        P("transpose", X, test=lambda n: n.attrs["axes"] == tuple(range(n.ndim))),
        lambda x, **_: x,
    ),
    # sum_to(x, shape of x) -> x
    Rule("sum_to(x)=x", P("sum_to", X), lambda x, **_: x),
    # broadcast_like(x, ref) -> x when x already has ref's shape
    Rule("broadcast(x)=x", P("broadcast_like", X, var("ref")), lambda x, **_: x),
    # broadcast_like(broadcast_like(x, r1), r2) -> broadcast_like(x, r2)
    Rule(
        "broadcast(broadcast)",
        P("broadcast_like", P("broadcast_like", X, var("r1")), var("r2")),
        lambda x, r2, **_: build("broadcast_like", x, r2),
    ),
    # f([[c]], x) -> f(c, x) for elementwise f, x with as many axes: the same result
    Rule("f([[c]])", P(None, test=_has_shaped_scalar), _scalar_consts),
    # f(broadcast_like(a, r), b) -> f(a, b) for elementwise f: NumPy broadcasts anyway
    Rule("f(broadcast)", P(None, test=_elementwise_of_broadcast), _drop_broadcast),
]


def simplify(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Apply the algebraic rules until none applies; return the new outputs and
    {"simplified": n, "<rule>": times}."""
    outputs, fired = graph_rewrite(outputs, RULES)
    return outputs, Counter(simplified=sum(fired.values())) + fired
