"""Symbolic mode with SymPy: translate the graph, differentiate with `sympy.diff`, and turn
the derivative back into graph nodes.

Every float leaf (and every `wrt` node) becomes an array of real SymPy symbols, one per
element, named like `W[0,1]`; integer and boolean leaves (labels, masks) and the leaves
named in `constants=` are baked in from `values`. Each op translates itself through its
OpDef.sympy hook (KERNEL: the NumPy kernel runs on object arrays, with booleans as 0/1).

Symbolic mode needs concrete shapes, so batch dimensions come from `values=` or
`shapes=` (dicts keyed by leaf name). It also refuses expressions that are too large: the
size of an expression is its operation count as a tree (what SymPy would print), which
is what "expression swell" means; above `max_ops` it raises a GraphError stating the size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import EvaluationError, GraphError
from ..evaluation import leaf_value
from ..ir import Node, as_list, topological_order
from ..ops.leaves import const
from ..ops.registry import FLOAT_DTYPES, KERNEL, F, get, size
from ..passes.cost import concrete, node_flops
from ..passes.specialization import specialize
from .forward import concrete_shape, pin_batch
from .from_sympy import SympyToGraph
from .reverse import check_gradient_args

DEFAULT_MAX_OPS = 200_000
_LOGIC = (sp.logic.boolalg.Boolean, sp.core.relational.Relational)


def _sympy_number(value):
    """A NumPy/Python scalar as a SymPy number (integral floats become Integers)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (bool, np.bool_)):
        return sp.true if value else sp.false
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    value = float(value)
    if value.is_integer() and abs(value) < 2.0**53:
        return sp.Integer(int(value))
    return sp.Float(value)


_as_sympy = np.vectorize(_sympy_number, otypes=[object])
_as_number = np.vectorize(
    lambda e: sp.Piecewise((1, e), (0, True)) if isinstance(e, _LOGIC) else e, otypes=[object]
)


class OpCounter:
    """Operation count of SymPy expressions as trees (n-ary Add/Mul count n - 1, every
    function, power or relation 1), memoized so shared subexpressions cost one visit."""

    def __init__(self):
        self.memo: dict = {}

    def __call__(self, expr) -> int:
        """The tree operation count of one expression (iterative: deep trees are fine)."""
        stack = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in self.memo:
                continue
            args = getattr(e, "args", ())
            if not args:
                self.memo[e] = 0
            elif ready:
                own = len(args) - 1 if isinstance(e, (sp.Add, sp.Mul, sp.And, sp.Or)) else 1
                self.memo[e] = own + sum(self.memo[a] for a in args)
            else:
                stack.append((e, True))
                stack.extend((a, False) for a in args if a not in self.memo)
        return self.memo[expr]

    def total(self, exprs) -> int:
        """The summed operation count of an iterable of expressions."""
        return int(sum(self(e) for e in exprs))


@dataclass
class Translation:
    """A graph in SymPy: one object array per output and the symbols of each cut node."""

    outputs: list[np.ndarray]
    symbols: dict[int, np.ndarray]  # node id -> object array of its element symbols
    cut: list[Node]  # the nodes that became symbols (float leaves and the wrt nodes)
    counter: OpCounter


def _element_symbols(node: Node, shape: tuple) -> np.ndarray:
    label = node.name or f"{node.op}{node.id}"
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        suffix = "[" + ",".join(map(str, index)) + "]" if shape else ""
        out[index] = sp.Symbol(label + suffix, real=True)
    return out


def _leaf_array(node: Node, values: Mapping, constants: Sequence[str]) -> np.ndarray | None:
    """The baked-in value of a leaf, or None when it becomes symbols."""
    if node.op == "const":
        return _as_sympy(np.asarray(node.attrs["value"]))
    if node.dtype in FLOAT_DTYPES and node.name not in constants:
        return None
    if node.name in values or node.op == "state":  # checked against the leaf's shape
        return _as_sympy(leaf_value(node, values))
    why = (
        "it is listed in constants="
        if node.name in constants
        else f"{node.dtype} leaves are baked into the expressions"
    )
    raise GraphError(
        f"{node.site}: symbolic mode needs the value of {node.op} {node.name!r} "
        f"({why}); pass it in values="
    )


def _apply_hook(node: Node, args: list[np.ndarray]) -> np.ndarray:
    opdef = get(node.op)
    if opdef.sympy is None:
        raise GraphError(f"{node.site}: op {node.op!r} has no SymPy translation")
    try:
        if opdef.sympy == KERNEL:
            args = [_as_number(a) if x.dtype == "bool" else a for a, x in zip(args, node.inputs)]
            result = opdef.kernel(*args, **node.attrs)
        else:
            result = opdef.sympy(*args, **node.attrs)
    except (ValueError, TypeError, IndexError) as error:  # e.g. batch sizes that do not fit
        shapes = ", ".join(str(np.shape(a)) for a in args)
        raise EvaluationError(
            f"{node.site}: symbolic: {node.op} failed on inputs of shapes {shapes}: {error}"
        ) from None
    return _as_sympy(np.asarray(result, dtype=object))


def _batch_size(graph: list[Node], values, shapes) -> int:
    """The largest known batch size (for the size estimate; missing shapes fail later)."""
    sizes = [1]
    for node in graph:
        if node.is_leaf and None in node.shape:
            try:
                sizes.extend(concrete_shape(node, values, shapes))
            except GraphError:
                continue
    return max(sizes)


def estimated_sizes(order: list[Node], sized: dict) -> dict[int, float]:
    """The operations in each node's expressions, estimated without building them: its FLOPs
    plus each input's operations copied into every output element that reads it."""
    estimates: dict[int, float] = {}
    for node in order:
        if node.is_leaf:
            estimates[node.id] = 0.0  # symbols and numbers
            continue
        flops = node_flops(sized[node.id])
        total = float(flops)
        for i in node.inputs:
            reads = max(1.0, flops / (2 * max(size(sized[i.id].shape), 1)))
            total += estimates[i.id] * reads
        estimates[node.id] = total
    return estimates


def _count(estimate: float) -> str:
    return f"{int(estimate):,}" if estimate < 1e15 else f"{estimate:.1e}"


def translate(
    outputs,
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    cut: Sequence[Node] = (),
    constants: Sequence[str] = (),
    max_ops: int = DEFAULT_MAX_OPS,
    wrt_elements: int = 0,
) -> Translation:
    """Translate the graph of `outputs` (specialized: no select_mode) into SymPy, the
    float leaves and the `cut` nodes as symbols. Sizes are estimated first: above `max_ops`
    (for the derivative: the first output's size times `wrt_elements`) it refuses at once."""
    values = values or {}
    outs = as_list(outputs)
    order = topological_order(outs)
    batch = _batch_size(order, values, shapes)
    elements = sum(int(np.prod([batch if d is None else d for d in n.shape])) for n in order)
    if elements > max_ops:
        raise GraphError(
            f"symbolic: the graph has {elements:,} scalar elements, so its "
            f"expressions have at least that many operations (cap max_ops="
            f"{max_ops:,}); use a smaller batch or raise max_ops"
        )
    cut_ids = {c.id for c in cut}
    counter = OpCounter()
    env: dict[int, np.ndarray] = {}
    symbols: dict[int, np.ndarray] = {}
    estimates = estimated_sizes(order, concrete(outs, {}, batch))
    worst = max(order, key=lambda n: estimates[n.id])
    if estimates[worst.id] > max_ops:  # refuse now, not after minutes of SymPy
        what = worst.op + (f" {worst.name!r}" if worst.name else "")
        raise GraphError(
            f"{worst.site}: symbolic: the expressions of {what} would have about "
            f"{_count(estimates[worst.id])} operations (estimated before building them), "
            f"above the cap max_ops={max_ops:,}; the graph is too large to differentiate "
            "symbolically"
        )
    if wrt_elements and estimates[outs[0].id] * wrt_elements > max_ops:
        raise GraphError(
            f"{outs[0].site}: symbolic: the derivative would have about "
            f"{_count(estimates[outs[0].id] * wrt_elements)} operations (estimated: "
            f"{_count(estimates[outs[0].id])} in the expression x {wrt_elements:,} variables), "
            f"above the cap max_ops={max_ops:,}"
        )
    for node in order:
        if node.is_leaf:
            array = _leaf_array(node, values, constants)
            if array is None:
                cut_ids.add(node.id)
                array = np.empty(concrete_shape(node, values, shapes), dtype=object)
        else:
            array = _apply_hook(node, [env[i.id] for i in node.inputs])
        if node.id in cut_ids:
            array = symbols[node.id] = _element_symbols(node, array.shape)
        size = counter.total(array.flat)
        if size > max_ops:
            what = node.op + (f" {node.name!r}" if node.name else "")
            raise GraphError(
                f"{node.site}: symbolic: the expressions of {what} "
                f"have {size:,} operations, above the cap "
                f"max_ops={max_ops:,}; the graph is too large to differentiate "
                "symbolically"
            )
        env[node.id] = array
    return Translation(
        [env[o.id] for o in outs], symbols, [n for n in order if n.id in symbols], counter
    )


def to_sympy(
    outputs,
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    training: bool = False,
    constants: Sequence[str] = (),
    max_ops: int = DEFAULT_MAX_OPS,
):
    """The SymPy expressions of `outputs`: an expression for a scalar, else an object array.

    Float leaves become real symbols named like `W[0,1]`; integer and boolean leaves, and
    the leaves named in `constants`, are baked in from `values`. One node gives one
    result; a list gives a list.
    """
    graph = specialize(as_list(outputs), training)
    tr = translate(graph, values, shapes, (), constants, max_ops)
    results = [a.item() if a.shape == () else a for a in tr.outputs]
    return results[0] if isinstance(outputs, Node) else results


@dataclass
class SymbolicDerivative:
    """The derivative of a scalar in SymPy: one object array per wrt node, and sizes."""

    expression: sp.Basic
    gradients: list[np.ndarray]
    translation: Translation

    def swell(self) -> dict:
        """Operation counts: the expression, its derivative, and the derivative after cse."""
        count = self.translation.counter
        flat = [e for g in self.gradients for e in g.flat]
        replacements, reduced = sp.cse(flat, symbols=sp.numbered_symbols("_cse"))
        fresh = OpCounter()
        return {
            "expression_ops": count(self.expression),
            "ops": count.total(flat),
            "ops_cse": fresh.total([r for _, r in replacements] + list(reduced)),
            "elements": len(flat),
        }


def differentiate(
    y: Node,
    wrt: Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    training: bool = False,
    constants: Sequence[str] = (),
    max_ops: int = DEFAULT_MAX_OPS,
) -> SymbolicDerivative:
    """Differentiate scalar `y` with sympy.diff with respect to each element of `wrt`."""
    check_gradient_args(y, wrt)
    graph = specialize([y, *wrt], training)
    elements = sum(int(np.prod(concrete_shape(w, values, shapes), dtype=object)) for w in wrt)
    tr = translate(graph[:1], values, shapes, graph[1:], constants, max_ops, elements)
    expr = tr.outputs[0].item()
    n_symbols = sum(tr.symbols[w.id].size for w in graph[1:] if w.id in tr.symbols)
    estimate = tr.counter(expr) * max(n_symbols, 1)
    if estimate > max_ops:
        raise GraphError(
            f"{y.site}: symbolic: the derivative would have about {estimate:,} "
            f"operations ({tr.counter(expr):,} in the expression x {n_symbols} "
            f"variables), above the cap max_ops={max_ops:,}"
        )
    gradients = []
    for w in graph[1:]:
        syms = tr.symbols.get(w.id)
        if syms is None:  # wrt does not reach y
            syms = np.empty(concrete_shape(w, values, shapes), dtype=object)
            gradients.append(np.full(syms.shape, sp.S.Zero, dtype=object))
            continue
        gradients.append(
            np.vectorize(lambda s: sp.diff(expr, s), otypes=[object])(syms) if syms.size else syms
        )
    return SymbolicDerivative(expr, gradients, tr)


def symbolic_swell(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    training: bool = False,
    constants: Sequence[str] = (),
    max_ops: int = DEFAULT_MAX_OPS,
) -> dict:
    """Expression swell: {"expression_ops", "ops", "ops_cse", "elements"} of d y / d wrt.

    "ops" counts the derivative's operations as trees, "ops_cse" after sympy.cse shares
    the common subexpressions; "elements" is the number of derivative entries.
    """
    return differentiate(y, as_list(wrt), values, shapes, training, constants, max_ops).swell()


class _Elements(dict):
    """Symbol -> scalar node picking that element out of its node, built on first use."""

    def __init__(self, tr: Translation):
        super().__init__()
        self.where = {
            s: (node, k, arr.size)
            for node in tr.cut
            for arr in [tr.symbols[node.id]]
            for k, s in enumerate(arr.flat)
        }

    def __missing__(self, symbol):
        node, k, size = self.where[symbol]  # KeyError: not one of ours
        if node.shape == ():
            element = node
        else:  # symbolic_gradient_graph pinned every batch dimension
            flat = node if node.ndim == 1 else F.reshape(node, shape=(size,))
            element = F.index_last(flat, index=k)
        self[symbol] = element
        return element


def symbolic_gradient_graph(
    y: Node,
    wrt: Sequence[Node],
    values: Mapping | None = None,
    shapes: Mapping | None = None,
    training: bool = False,
    constants: Sequence[str] = (),
    max_ops: int = DEFAULT_MAX_OPS,
) -> list[Node]:
    """The gradient of scalar `y` as graph nodes rebuilt from SymPy's derivative (after
    sympy.cse, so shared subexpressions become shared nodes). The graph is rebuilt at the
    batch size of `values` (or `shapes`): SymPy's derivative is per element."""
    y, *wrt = pin_batch([y, *wrt], values, shapes, fill=False)
    derivative = differentiate(y, wrt, values, shapes, training, constants, max_ops)
    flat = [e for g in derivative.gradients for e in g.flat]
    replacements, reduced = sp.cse(flat, symbols=sp.numbered_symbols("_cse"))
    table = _Elements(derivative.translation)
    convert = SympyToGraph(table, y.dtype)
    for symbol, expr in replacements:
        table[symbol] = convert(expr)
    result, position = [], 0
    for g in derivative.gradients:
        parts = reduced[position : position + g.size]
        position += g.size
        if g.shape == ():
            result.append(convert(parts[0]))
            continue
        total = None
        for index, expr in zip(np.ndindex(*g.shape), parts):
            if expr == 0:
                continue
            unit = np.zeros(g.shape, dtype=y.dtype)
            unit[index] = 1.0
            term = convert(expr) * const(unit)
            total = term if total is None else total + term
        result.append(total if total is not None else const(np.zeros(g.shape, dtype=y.dtype)))
    return result
