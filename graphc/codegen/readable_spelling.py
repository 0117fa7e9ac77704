"""The readable NumPy renderer: one node of the user's graph, or one step of its gradient,
written as one NumPy expression, for code made to be read (gc.export(style="readable")).

The fast renderer writes one statement per primitive into preallocated buffers. This one
takes a single op (its inputs replaced by the variables that hold them), decomposes it into
primitives with the same OpDef builders the fast module uses (decompose.py), and spells the
primitives as one nested expression with Python's operators where it has them
(`x @ W + b`, `z > 0`). A primitive used twice inside one op gets its own line first, so
nothing is computed twice and no line grows long.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..ir import Node, rebuild, topological_order
from ..ops.leaves import input as placeholder_leaf
from ..ops.registry import REGISTRY, ShapeOf, SizeOf
from .decompose import decompose, optimized
from .names import literal
from .spell import INFIX, sliced

ATOM = 9  # the binding strength of calls and names (spell.INFIX has the operators')


class Spelling:
    """Spells primitive graphs as NumPy source, known nodes by their variable names.

    `constant(array)` names a module-level constant for an array too big to write inline;
    `helpers` maps a runtime helper (dropout_mask) to the call the module spells for it.
    """

    def __init__(
        self,
        constant: Callable[[np.ndarray], str],
        helpers: dict[str, Callable[[Node, list[str]], str]],
        fresh: Callable[[str], str],
        helper: Callable[[str], str] | None = None,
    ):
        self.constant = constant
        self.helpers = helpers
        self.fresh = fresh
        self.helper = helper  # any other helper: the module copies it, calls it by name

    def op_lines(
        self, node: Node, operands: Sequence[Node], names: dict[int, str]
    ) -> tuple[list[str], str]:
        """(lines to run first, the expression) computing `node` from `operands`, which are
        nodes already held in variables (`names`); other inputs must be consts."""
        holders = {
            o.id: placeholder_leaf(f"v{i}", o.shape, o.dtype) for i, o in enumerate(operands)
        }
        mapping = {o: holders[o.id] for o in operands}
        # walk only down to the operands: past them lies the whole graph (a cotangent's
        # reaches every later step), which the placeholders replace anyway
        (local,) = rebuild([node], replace=mapping, order=_down_to(node, holders))
        (primitive,), origins = decompose([local])
        # a builder may make one value twice (softmax's exp); compute it once
        (primitive,) = optimized([primitive], origins, ("cse",))
        made = {
            n.id: origins.roots[n.id].op
            for n in topological_order(primitive)
            if n.id in origins.roots
        }
        known = {holders[o.id].id: names[o.id] for o in operands}
        return self._spell(primitive, known, made)

    def expression(self, root: Node, known: dict[int, str]) -> tuple[list[str], str]:
        """(lines to run first, the expression) of a primitive graph whose leaves are
        variables (`known`: node id -> name)."""
        return self._spell(root, known, {})

    def _spell(
        self, root: Node, known: dict[int, str], made: dict[int, str]
    ) -> tuple[list[str], str]:
        """Lines and the expression of `root`; an op a builder decomposed inside it (the
        softmax in log_softmax's gradient) or a value used twice gets its own line."""
        uses: dict[int, int] = {}
        order = topological_order(root)
        for node in order:
            for i in node.inputs:
                uses[i.id] = uses.get(i.id, 0) + 1
        spelled: dict[int, tuple[str, int]] = {k: (v, ATOM) for k, v in known.items()}
        lines: list[str] = []
        for node in order:
            if node.id in spelled:
                continue
            text, strength = self._one(node, spelled)
            inner = node is not root and not node.is_leaf
            if inner and (uses.get(node.id, 0) > 1 or node.id in made or len(text) > 88):
                var = self.fresh(made.get(node.id, node.op))
                lines.append(f"{var} = {text}")
                spelled[node.id] = (var, ATOM)
            else:
                spelled[node.id] = (text, strength)
        return lines, spelled[root.id][0]

    def _one(self, node: Node, spelled: dict[int, tuple[str, int]]) -> tuple[str, int]:
        if node.op == "const":
            return self._const(node.attrs["value"])
        opdef = REGISTRY[node.op]
        args, kwargs = opdef.call(node)
        if opdef.helper in self.helpers:
            return self.helpers[opdef.helper](node, [spelled[a.id][0] for a in node.inputs]), ATOM
        if opdef.helper is not None:  # windows(x, kernel=...): a function of the module
            parts = [self._operand(a, spelled, 0) for a in args]
            parts += [f"{k}={literal(v)}" for k, v in kwargs.items()]
            name = self.helper(opdef.helper) if self.helper else opdef.helper
            return f"{name}({', '.join(parts)})", ATOM
        fn = opdef.array_fn
        if fn in INFIX and len(args) == 2 and not kwargs:
            symbol, strength = INFIX[fn]
            # left-associative but for **, and comparisons never chain (a < b < c)
            left = self._operand(args[0], spelled, strength + (symbol == "**" or strength == 2))
            right = self._operand(args[1], spelled, strength + (symbol != "**"))
            return f"{left} {symbol} {right}", strength
        if fn == "negative" and not kwargs:
            return f"-{self._operand(args[0], spelled, 6)}", 6
        if fn == "transpose" and (tuple(args[1:]) or (kwargs.get("axes"),)) == ((1, 0),):
            return f"{self._operand(args[0], spelled, ATOM)}.T", ATOM
        if fn == "slice":
            return sliced(self._operand(args[0], spelled, ATOM), **kwargs), ATOM
        if fn == "expand_dims" and len(args) == 2 and isinstance(args[1], tuple):
            args = (args[0], args[1][0] if len(args[1]) == 1 else args[1])  # one axis, bare
        parts = [self._operand(a, spelled, 0) for a in args]
        parts += [f"{k}={v}" for k, v in _tidy(fn, kwargs).items()]
        return f"np.{fn}({', '.join(parts)})", ATOM

    def _operand(self, arg, spelled: dict[int, tuple[str, int]], needed: int) -> str:
        if isinstance(arg, Node):
            text, strength = spelled[arg.id]
        elif isinstance(arg, ShapeOf):
            text, strength = f"{self._operand(arg.node, spelled, ATOM)}.shape", ATOM
        elif isinstance(arg, SizeOf):
            base = self._operand(arg.node, spelled, ATOM)
            sizes = [f"{base}.shape[{a}]" for a in arg.axes]
            text, strength = (" * ".join(sizes), 5) if sizes else ("1", ATOM)
        else:
            text = literal(arg)
            strength = 6 if text.startswith("-") else ATOM
        return f"({text})" if strength < needed else text

    def _const(self, value: np.ndarray) -> tuple[str, int]:
        if value.ndim == 0 and value.dtype.kind in "fiub":
            text = literal(as_written(value.item()))
            return text, 6 if text.startswith("-") else ATOM
        if (
            value.ndim == 1
            and value.dtype.kind in "iu"
            and np.array_equal(value, np.arange(value.size))
        ):
            return f"np.arange({value.size})", ATOM
        return self.constant(value), ATOM


def _down_to(root: Node, stops) -> list[Node]:
    """The nodes from `root` down to the nodes whose ids are in `stops` (not past them),
    inputs before users."""
    order, seen, stack = [], set(stops), [(root, iter(root.inputs))]
    seen.add(root.id)
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child.id not in seen:
                seen.add(child.id)
                stack.append((child, iter(child.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _tidy(fn: str, kwargs: dict) -> dict[str, str]:
    """Keyword literals as a reader writes them: NumPy's defaults left out, one axis bare."""
    tidy = {}
    for key, value in kwargs.items():
        if key == "keepdims" and value is False:
            continue
        if key == "axis" and isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        tidy[key] = literal(value)
    return tidy


def as_written(value):
    """A float as its author wrote it: 1.0 - 0.9 computed in Python is 0.09999999999999998,
    one unit in the last place from 0.1, and reads as 0.1 (12 significant digits, when they
    are within 2 units in the last place); other values as they are."""
    if not isinstance(value, float) or not np.isfinite(value) or value == 0:
        return value
    short = float(f"{value:.12g}")
    return short if abs(short - value) <= 2 * np.spacing(abs(value)) else value
