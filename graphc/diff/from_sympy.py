"""SymPy expressions back into graph nodes: the last step of symbolic differentiation.

`SympyToGraph` turns scalar SymPy expressions into scalar graph nodes, sharing a node per
distinct subexpression. Symbols are looked up in a table the caller fills (leaf elements,
or the temporaries of `sympy.cse`). Translations are rules as data, one per SymPy head:
each op whose `OpDef.sympy_head` names a SymPy function translates it back, and the rules
below handle what is not one op (sums, products, powers, Piecewise, Min, Heaviside).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import GraphError
from ..ir import Node
from ..ops.binary import minimum
from ..ops.leaves import const
from ..ops.registry import REGISTRY, F, apply


class SympyToGraph:
    """Convert SymPy expressions to scalar graph nodes of one float dtype."""

    def __init__(self, symbols: dict[sp.Symbol, Node], dtype: str = "float64"):
        self.symbols = symbols
        self.dtype = dtype
        self.memo: dict[sp.Basic, Node] = {}
        self.rules = RULES + _registry_rules() + _LAST

    def number(self, value) -> Node:
        """A scalar float const."""
        return const(np.asarray(float(value), dtype=self.dtype))

    def __call__(self, expr) -> Node:
        """The node computing `expr` (a SymPy expression, number or boolean)."""
        expr = sp.sympify(expr)
        # iterative post-order, so a deep expression does not hit Python's recursion limit
        stack = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in self.memo:
                continue
            children = self._children(e)
            if ready or not children:
                self.memo[e] = self._convert(e)
            else:
                stack.append((e, True))
                stack.extend((c, False) for c in children if c not in self.memo)
        return self.memo[expr]

    def _children(self, e: sp.Basic) -> list:
        if isinstance(e, sp.Piecewise):
            return [part for pair in e.args for part in (pair.expr, *_relations(pair.cond))]
        if isinstance(e, (sp.Symbol, sp.Number, sp.logic.boolalg.BooleanAtom)):
            return []
        return list(e.args)

    def _convert(self, e: sp.Basic) -> Node:
        if isinstance(e, sp.Symbol):
            try:
                return self.symbols[e]
            except KeyError:
                raise GraphError(f"symbolic: the expression uses the unknown symbol {e}") from None
        if e in (sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise GraphError(f"symbolic: the derivative is undefined here ({e})")
        if isinstance(e, (sp.Number, sp.NumberSymbol)):  # NumberSymbol: E, pi
            return self.number(e)
        if isinstance(e, sp.logic.boolalg.BooleanAtom):
            return const(np.asarray(bool(e)))
        for head, rule in self.rules:
            if isinstance(e, head):
                return rule(self, e)
        raise GraphError(f"symbolic: cannot turn the SymPy {type(e).__name__} {e} into graph ops")

    def node(self, e: sp.Basic) -> Node:
        """The node of an already converted subexpression."""
        return self.memo[e] if e in self.memo else self(e)

    def select(self, cond, a: Node, b: Node) -> Node:
        """a where the SymPy condition holds, else b (And/Or/Not become nested wheres)."""
        if cond is sp.true:
            return a
        if cond is sp.false:
            return b
        if isinstance(cond, sp.And):
            first, *rest = cond.args
            return self.select(first, self.select(sp.And(*rest), a, b), b)
        if isinstance(cond, sp.Or):
            first, *rest = cond.args
            return self.select(first, a, self.select(sp.Or(*rest), a, b))
        if isinstance(cond, sp.Not):
            return self.select(cond.args[0], b, a)
        if isinstance(cond, sp.ITE):  # a condition chosen by a condition (sympy.cse makes them)
            test, then, other = cond.args
            return self.select(test, self.select(then, a, b), self.select(other, a, b))
        if isinstance(cond, sp.Ne):
            return F.where(F.equal(self.node(cond.lhs), self.node(cond.rhs)), b, a)
        return F.where(self.node(cond), a, b)


def _relations(cond) -> list:
    """The arithmetic operands under a condition (what must be converted before it)."""
    if isinstance(cond, (sp.logic.boolalg.BooleanAtom, sp.Symbol)):
        return [cond] if isinstance(cond, sp.Symbol) else []
    if isinstance(cond, sp.logic.boolalg.BooleanFunction):
        return [r for c in cond.args for r in _relations(c)]
    return list(cond.args)


def _add(conv: SympyToGraph, e: sp.Add) -> Node:
    positive = [a for a in e.args if not a.could_extract_minus_sign()]
    negative = [-a for a in e.args if a.could_extract_minus_sign()]
    total = conv.node(positive[0]) if positive else -conv.node(negative.pop(0))
    for a in positive[1:]:
        total = total + conv.node(a)
    for a in negative:
        total = total - conv(a)
    return total


def _mul(conv: SympyToGraph, e: sp.Mul) -> Node:
    coeff, factors = e.as_coeff_mul()
    num = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
    den = [1 / f for f in factors if f.is_Pow and f.exp.is_negative]
    sign = -1 if coeff < 0 else 1
    coeff = abs(coeff)
    out = None if coeff == 1 else conv.number(coeff)
    for f in num:
        out = conv.node(f) if out is None else out * conv.node(f)
    if den:
        below = conv(sp.Mul(*den))
        out = conv.number(1) / below if out is None else out / below
    return -out if sign < 0 else out


def _pow(conv: SympyToGraph, e: sp.Pow) -> Node:
    base, exp = e.args
    if exp.is_negative:
        return conv.number(1) / conv(1 / e)
    x = conv.node(base)
    if exp == 1:
        return x
    if exp == sp.S.Half:
        return F.sqrt(x)
    if exp.is_Integer and exp <= 4:  # small powers by multiplication: exact, like reverse mode
        out = x
        for _ in range(int(exp) - 1):
            out = out * x
        return out
    return F.pow(x, conv.node(exp))


def _heaviside(conv: SympyToGraph, e) -> Node:
    x = conv.node(e.args[0])
    at_zero = e.args[1] if len(e.args) > 1 and e.args[1] is not None else sp.S.Half
    zero, one = conv.number(0), conv.number(1)
    return F.where(F.greater(x, 0.0), one, F.where(F.less(x, 0.0), zero, conv.number(at_zero)))


def _piecewise(conv: SympyToGraph, e: sp.Piecewise) -> Node:
    pieces = list(e.args)
    last_expr, last_cond = pieces.pop()
    if last_cond is not sp.true:  # SymPy leaves the remaining case undefined; graphs cannot
        raise GraphError(f"symbolic: the Piecewise {e} is undefined where no case holds")
    out = conv.node(last_expr)
    for piece in reversed(pieces):
        out = conv.select(piece.cond, conv.node(piece.expr), out)
    return out


def _boolean(conv: SympyToGraph, e) -> Node:
    # a logical combination used as a value (sympy.cse names them): a comparison of 0/1
    return F.greater(conv.select(e, conv.number(1), conv.number(0)), 0.5)


def _chain(fn: Callable[[Node, Node], Node]) -> Callable:
    def rule(conv: SympyToGraph, e) -> Node:
        out = conv.node(e.args[0])
        for a in e.args[1:]:
            out = fn(out, conv.node(a))
        return out

    return rule


def _unary(fn: Callable[[Node], Node]) -> Callable:
    return lambda conv, e: fn(conv.node(e.args[0]))


def _op_of(name: str) -> Callable:
    """The rule for a SymPy head that op `name` computes: unary, or chained over the args."""
    return (
        _chain(lambda a, b: apply(name, a, b))
        if REGISTRY[name].arity == 2
        else _unary(lambda x: apply(name, x))
    )


def _registry_rules() -> list[tuple[type, Callable]]:
    """A rule per op that names its SymPy head (before the catch-all BooleanFunction)."""
    return [(op.sympy_head, _op_of(name)) for name, op in REGISTRY.items() if op.sympy_head]


# SymPy head -> graph ops. Order matters only where heads are subclasses of one another.
RULES: list[tuple[type, Callable[[SympyToGraph, sp.Basic], Node]]] = [
    (sp.Add, _add),
    (sp.Mul, _mul),
    (sp.Pow, _pow),
    (sp.Piecewise, _piecewise),
    (sp.Heaviside, _heaviside),
    (sp.DiracDelta, lambda conv, e: conv.number(0)),  # zero wherever the derivative exists
    (sp.Min, _chain(minimum)),
    (sp.Unequality, lambda conv, e: _boolean(conv, e)),
]
_LAST = [(sp.logic.boolalg.BooleanFunction, _boolean)]  # after the ops' own heads
