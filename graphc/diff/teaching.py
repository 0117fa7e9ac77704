"""Local rules in view: an op's derivative derived by SymPy from its own translation, beside
the numbers its registered vjp rule gives (`local_rule`); and how many units of each
activation have a vanishing local derivative (`saturation`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node
from ..ops import losses
from ..ops.binary import leaky_relu, minimum
from ..ops.elementwise import sigmoid
from ..ops.leaves import const, input
from ..ops.reductions import softmax
from ..ops.registry import REGISTRY, apply, broadcast_shapes
from ..ops.shape import sum_to_kernel
from .reverse import vjp
from .symbolic import to_sympy

# SciPy (there through scikit-learn) gives lambdify the special functions NumPy lacks (erf)
_MODULES = ["numpy", "scipy"]


SIMPLIFY_OPS = 120  # larger expressions are shown as SymPy differentiates them


@dataclass(frozen=True)
class Composite:
    """A loss or layer built from several ops, described for `local_rule`.

    inputs   (name, shape) of each float input, in the builder's argument order
    wrt      the inputs to differentiate with respect to
    named    symbol -> builder of a named intermediate (p = softmax(z)): the derivative is
             rewritten in terms of it, as backprop rules are
    simplex  inputs whose entries sum to one (probability labels)
    """

    build: Callable[..., Node]
    inputs: tuple[tuple[str, tuple], ...]
    wrt: tuple[str, ...]
    named: tuple[tuple[str, Callable[..., Node]], ...] = ()
    simplex: tuple[str, ...] = ()


COMPOSITES = {
    # the lecture's dL/dz = p - y
    "softmax_cross_entropy": Composite(
        losses.softmax_cross_entropy,
        (("z", (1, 3)), ("y", (1, 3))),
        ("z",),
        (("p", lambda z, y: softmax(z)),),
        ("y",),
    ),
    "binary_cross_entropy_with_logits": Composite(
        losses.binary_cross_entropy_with_logits,
        (("z", (1,)), ("t", (1,))),
        ("z",),
        (("s", lambda z, t: sigmoid(z)),),
    ),
    "mse": Composite(losses.mse, (("p", (1, 2)), ("t", (1, 2))), ("p",)),
    "l2": Composite(losses.l2, (("w", (3,)),), ("w",)),
    "l1": Composite(losses.l1, (("w", (3,)),), ("w",)),
    "leaky_relu": Composite(lambda x: leaky_relu(x, 0.1), (("x", ()),), ("x",)),
    "minimum": Composite(minimum, (("a", ()), ("b", ())), ("a", "b")),
}


def _pretty(expr: Any, batch_of_one: bool = False) -> Any:
    """Element symbols for display: x[1,2] becomes x_1_2 (and z[0,1] of a batch of one,
    z_1)."""
    if isinstance(expr, sp.MatrixBase):
        expr = sp.ImmutableMatrix(expr)
    if not isinstance(expr, sp.Basic):
        return expr
    renames = {}
    for s in expr.free_symbols:
        match = re.fullmatch(r"(\w+)\[([\d,]+)\]", s.name)
        if match:
            index = match.group(2).split(",")
            if batch_of_one and len(index) > 1 and index[0] == "0":
                index = index[1:]
            renames[s] = sp.Symbol(f"{match.group(1)}_{'_'.join(index)}", real=True)
    return expr.xreplace(renames)


def _symbol_table(*exprs) -> dict[str, sp.Symbol]:
    return {s.name: s for e in exprs for s in getattr(e, "free_symbols", ())}


def _element_names(name: str, shape: tuple) -> list[str]:
    """The symbol names `to_sympy` gives the elements of a leaf: x, or x[0,1]."""
    return (
        [name] if shape == () else [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]
    )


def _in_terms_of_output(rule: sp.Expr, out: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    """The derivative written with the op's output y instead of its input, when that is no
    more complex (tanh' = 1 - y**2, sigmoid' = y (1 - y), exp' = y)."""
    y = sp.Symbol("y", real=True)
    try:
        candidates = [rule.subs(out, y)]
        solutions = sp.solve(sp.Eq(y, out), x)
        if len(solutions) == 1:
            candidates.append(sp.factor(sp.simplify(rule.subs(x, solutions[0]))))
    except (NotImplementedError, ValueError, TypeError):  # piecewise ops cannot be inverted
        return None
    good = [c for c in candidates if x not in c.free_symbols]
    best = min(good, key=sp.count_ops, default=None)
    return best if best is not None and sp.count_ops(best) <= sp.count_ops(rule) else None


@dataclass
class LocalRule:
    """An op's local derivative, from SymPy, beside its vjp rule's numbers.

    rules      input name -> the derivative (elementwise ops: d out / d input; other ops:
               element 0 of the vjp, with cotangent g; composites: d loss / d input)
    numeric    input name -> the registered rule's vjp (reverse mode) at a sample point
    symbolic   input name -> the SymPy rule evaluated at the same point
    """

    op: str
    kind: str  # "elementwise", "tensor", "composite" or "nondiff"
    output: Any
    rules: dict[str, Any] = field(default_factory=dict)
    in_terms_of_output: dict[str, Any] = field(default_factory=dict)
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    symbolic: dict[str, np.ndarray] = field(default_factory=dict)
    named: dict[str, Any] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        """The largest gap between the vjp rule's numbers and the SymPy rule's."""
        return max(
            (
                float(np.max(np.abs(self.numeric[k] - self.symbolic[k]), initial=0.0))
                for k in self.numeric
            ),
            default=0.0,
        )

    def __str__(self) -> str:
        if self.kind == "nondiff":
            return f"{self.op}: not differentiable (piecewise constant); no rule"
        lines = [f"{self.op} ({self.kind}): output = {self.output}"]
        lines += [f"  where {k} = {v}" for k, v in self.named.items()]
        for name, rule in self.rules.items():
            head = {
                "elementwise": f"d out/d {name}",
                "tensor": f"vjp[{name}][0]",
                "composite": f"d f/d {name}",
            }[self.kind]
            lines.append(f"  {head} = {rule}")
            if name in self.in_terms_of_output:
                lines.append(
                    f"  {' ' * len(head)} = {self.in_terms_of_output[name]}   (y = the output)"
                )
        lines.append(
            f"  numeric check: the registered vjp rule and this rule differ by at "
            f"most {self.max_error:.1e} at a sample point"
        )
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_latex_(self) -> str | None:
        """The rules as typeset math in Jupyter."""
        if self.kind == "nondiff":
            return None
        lines = [rf"&{sp.latex(sp.Symbol(k))} = {sp.latex(v)}" for k, v in self.named.items()]
        for name, rule in self.rules.items():
            lines.append(rf"&\frac{{\partial}}{{\partial {name}}}: \quad {sp.latex(rule)}")
            if name in self.in_terms_of_output:
                lines.append(
                    rf"&\quad = {sp.latex(self.in_terms_of_output[name])}"
                    r"\quad (y = \text{output})"
                )
        body = r" \\ ".join(lines)
        return rf"$\begin{{aligned}}{body}\end{{aligned}}$"

    def to_dict(self) -> dict:
        """JSON-able: expressions as strings, arrays as lists."""
        return {
            "op": self.op,
            "kind": self.kind,
            "output": str(self.output),
            "rules": {k: str(v) for k, v in self.rules.items()},
            "in_terms_of_output": {k: str(v) for k, v in self.in_terms_of_output.items()},
            "named": {k: str(v) for k, v in self.named.items()},
            "numeric": {k: v.tolist() for k, v in self.numeric.items()},
            "symbolic": {k: v.tolist() for k, v in self.symbolic.items()},
            "max_error": self.max_error,
        }


def _registered_vjp(
    node: Node, leaves: Sequence[Node], wrt: Sequence[str], values: dict, cotangent: np.ndarray
) -> dict[str, np.ndarray]:
    targets = [leaf for leaf in leaves if leaf.name in wrt]
    grads = evaluate(vjp([node], [const(cotangent)], targets), values)
    return {leaf.name: np.asarray(g) for leaf, g in zip(targets, grads)}


def _symbols(names: Sequence[str], known: Mapping[str, sp.Symbol]) -> list[sp.Symbol]:
    return [known.get(n, sp.Symbol(n, real=True)) for n in names]


def _scalar_version(node: Node, names: list[str], arrays: list[np.ndarray], attrs: dict):
    """The op of `node` applied to scalar inputs, or None when it is not elementwise (its
    output is not the broadcast of its inputs, or it refuses scalars)."""
    if any(a.dtype.kind != "f" for a in arrays):
        return None  # a boolean condition is baked in per element: see the whole array
    try:
        if node.shape != broadcast_shapes(*(i.shape for i in node.inputs)):
            return None
        scalar = apply(
            node.op, *[input(n, (), a.dtype.name) for n, a in zip(names, arrays)], **attrs
        )
    except GraphError:
        return None
    return scalar if scalar.shape == () else None


def _elementwise_rule(rule: LocalRule, scalar: Node, names, wrt, values, cotangent):
    baked = {n: values[n].flat[0] for n in names if n not in wrt}
    expr = to_sympy(scalar, values=baked)
    rule.output = expr
    known = _symbol_table(expr)
    args = _symbols(names, known)
    for n, x in zip(names, args):
        if n not in wrt:
            continue
        d = sp.diff(expr, x)  # SymPy's own form reads best (1 - tanh(x)**2, not cosh(x)**-2)
        rule.rules[n] = d
        if len(names) == 1:
            alt = _in_terms_of_output(d, expr, x)
            if alt is not None and alt != d:
                rule.in_terms_of_output[n] = alt
        local = sp.lambdify(args, d, _MODULES)(*[np.asarray(values[m], float) for m in names])
        rule.symbolic[n] = sum_to_kernel(
            np.broadcast_to(local, cotangent.shape) * cotangent, np.shape(values[n])
        )


def _tensor_rule(rule: LocalRule, node: Node, names, wrt, values, cotangent):
    fixed = [n for n in names if n not in wrt]  # inputs without a rule (max pooling's x)
    out = np.asarray(
        to_sympy(node, values={n: values[n] for n in fixed}, constants=fixed), dtype=object
    )
    rule.output = f"an array of shape {out.shape}"
    known = _symbol_table(*out.flat)
    g = _symbols([f"g[{','.join(map(str, i))}]" for i in np.ndindex(*out.shape)], {})
    inputs = [
        s
        for m in names
        if m in wrt
        for s in _symbols(_element_names(m, np.shape(values[m])), known)
    ]
    feed = [v for m in names if m in wrt for v in np.ravel(values[m])] + list(cotangent.flat)
    for n in wrt:
        xs = _symbols(_element_names(n, np.shape(values[n])), known)
        vj = [sum(gk * sp.diff(ok, x) for gk, ok in zip(g, out.flat)) for x in xs]
        first = vj[0]  # element 0 is enough to read the rule
        # simplify is superexponential in the worst case: only small expressions get it
        rule.rules[n] = _pretty(
            sp.simplify(first) if sp.count_ops(first) <= SIMPLIFY_OPS else first
        )
        fn = sp.lambdify(inputs + g, vj, _MODULES)
        rule.symbolic[n] = np.asarray(fn(*feed), dtype=float).reshape(np.shape(values[n]))


def _op_rule(name: str, rng: np.random.Generator) -> LocalRule:
    opdef = REGISTRY[name]
    arrays, attrs = opdef.samples(rng)[0]
    arrays = [np.asarray(a) for a in arrays]
    names = ["x"] if opdef.arity == 1 else list("abc"[: opdef.arity])
    wrt = [n for n, a, r in zip(names, arrays, opdef.vjp) if r is not None and a.dtype.kind == "f"]
    values = dict(zip(names, arrays))
    leaves = [input(n, a.shape, a.dtype.name) for n, a in zip(names, arrays)]
    node = apply(name, *leaves, **attrs)
    cotangent = rng.normal(size=node.shape)
    scalar = _scalar_version(node, names, arrays, attrs)
    rule = LocalRule(name, "tensor" if scalar is None else "elementwise", None)
    rule.numeric = _registered_vjp(node, leaves, wrt, values, cotangent)
    if scalar is None:
        _tensor_rule(rule, node, names, wrt, values, cotangent)
    else:
        _elementwise_rule(rule, scalar, names, wrt, values, cotangent)
    return rule


def _named_substitution(d: sp.Expr, part: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """`d` written with `symbol` standing for the subexpression `part`: by substitution, or,
    when `part` has one variable, by solving symbol = part for it (sigmoid: z = log(s/(1-s)))."""
    direct = d.subs(sp.expand(part), symbol)
    if symbol in direct.free_symbols or len(part.free_symbols) != 1:
        return direct
    (var,) = part.free_symbols
    try:
        solutions = sp.solve(sp.Eq(symbol, part), var)
    except (NotImplementedError, ValueError, TypeError):
        return direct
    return sp.simplify(d.subs(var, solutions[0])) if len(solutions) == 1 else direct


def _composite_rule(name: str, spec: Composite, rng: np.random.Generator) -> LocalRule:
    leaves = [input(n, shape) for n, shape in spec.inputs]
    loss = spec.build(*leaves)
    expr = to_sympy(loss)
    known = _symbol_table(expr)
    named_nodes = [(sym, build(*leaves)) for sym, build in spec.named]
    named = {sym: np.asarray(to_sympy(node), dtype=object).reshape(-1) for sym, node in named_nodes}
    extra = {sym: _symbols([f"{sym}[{k}]" for k in range(e.size)], {}) for sym, e in named.items()}
    values = {n: rng.normal(size=shape) for n, shape in spec.inputs}
    for n in spec.simplex:
        values[n] = rng.dirichlet(np.ones(values[n].size)).reshape(values[n].shape)
    rule = LocalRule(name, "composite", _pretty(expr, True))
    rule.named = {f"{sym}_0": _pretty(e[0], True) for sym, e in named.items()}
    rule.numeric = _registered_vjp(loss, leaves, spec.wrt, values, np.ones(()))
    shapes = dict(spec.inputs)
    inputs = [s for m, shape in spec.inputs for s in _symbols(_element_names(m, shape), known)]
    feed = [v for m, _ in spec.inputs for v in np.ravel(values[m])] + [
        v for _, node in named_nodes for v in np.ravel(evaluate(node, values))
    ]
    for n in spec.wrt:
        rules = []
        for j, x in enumerate(_symbols(_element_names(n, shapes[n]), known)):
            d = sp.diff(expr, x)
            for s in spec.simplex:  # eliminate one label (not this element's): they sum to 1
                labels = _symbols(_element_names(s, shapes[s]), known)
                other = labels[(j + 1) % len(labels)]
                d = d.subs(other, 1 - sum(lb for lb in labels if lb is not other))
            d = sp.expand(d)
            for sym, parts in named.items():  # in terms of the named intermediates
                for part, symbol in zip(parts, extra[sym]):
                    d = _named_substitution(d, part, symbol)
            rules.append(sp.simplify(d))
        fn = sp.lambdify(inputs + [s for e in extra.values() for s in e], rules, _MODULES)
        rule.symbolic[n] = np.asarray(fn(*feed), dtype=float).reshape(shapes[n])
        shown = sp.ImmutableMatrix([rules]) if len(rules) > 1 else rules[0]
        rule.rules[n] = _pretty(shown, True)
    return rule


def local_rule(op: str, seed: int = 0) -> LocalRule:
    """The local derivative of op (or composite) `op`, derived by SymPy from its
    translation, beside its registered vjp rule evaluated at a sample point.

    Registry ops use their own samples; composites (softmax_cross_entropy, mse, l1, l2,
    binary_cross_entropy_with_logits, leaky_relu, minimum) are simplified into the form
    backprop uses, e.g. softmax cross-entropy's gradient as p - y.
    """
    rng = np.random.default_rng(seed)
    if op in COMPOSITES:
        return _composite_rule(op, COMPOSITES[op], rng)
    opdef = REGISTRY.get(op)
    if opdef is None:
        raise GraphError(
            f"unknown op {op!r}; known ops: {', '.join(sorted(REGISTRY))}; "
            f"composites: {', '.join(COMPOSITES)}"
        )
    if opdef.leaf or opdef.sympy is None or opdef.samples is None:
        raise GraphError(
            f"op {op!r} has no local rule to show (a leaf, or an op that "
            f"gc.specialize removes before anything runs)"
        )
    if opdef.nondiff:
        return LocalRule(op, "nondiff", None)
    return _op_rule(op, rng)
