"""From an op's NumPy template to steps the planner can give output buffers.

An OpDef's `emit` template (such as "np.where({0} > 0, {0}, {1} * {0})") is parsed once
with `ast` and flattened into steps, one NumPy call each: ufunc calls, reductions that
take `out=`, and `select` (np.where without branches). A step that can take `out=` may
write into a reused buffer; anything else in a template (methods, indexing, views) stays
one expression that may alias its inputs.
"""

from __future__ import annotations

import ast
import functools
import inspect
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError

_BINOPS = {
    ast.Add: "add",
    ast.Sub: "subtract",
    ast.Mult: "multiply",
    ast.Div: "divide",
    ast.Pow: "power",
    ast.MatMult: "matmul",
}
_INFIX = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "power": "**",
    "matmul": "@",
    "greater": ">",
    "greater_equal": ">=",
    "less": "<",
    "less_equal": "<=",
    "equal": "==",
}
_COMPARE = {
    ast.Gt: "greater",
    ast.GtE: "greater_equal",
    ast.Lt: "less",
    ast.LtE: "less_equal",
    ast.Eq: "equal",
    ast.NotEq: "not_equal",
}
_REDUCE_UFUNC = {
    "sum": "np.add.reduce",
    "max": "np.maximum.reduce",
    "min": "np.minimum.reduce",
    "prod": "np.multiply.reduce",
}
_BOOL_RESULT = set(_COMPARE.values()) | {"logical_not", "logical_and", "logical_or"}


@dataclass
class Step:
    """One statement: `target = call(args, **kwargs)`, or a raw expression.

    kind: "ufunc" (writes out=, elementwise or matmul), "reduce" (np function with out=),
    "select" (the branch-free where), "call" (a copied kernel) or "expr" (a raw template
    expression; may be a view of its operands). args hold ("var", name) or ("lit", source).
    """

    kind: str
    func: str
    args: list
    kwargs: dict = field(default_factory=dict)
    shape: tuple | None = None
    dtype: str | None = None
    target: str = ""
    node: object = None
    out: str | None = None  # filled in by the planner
    refs: list = field(default_factory=list)  # variables a raw expression reads

    @property
    def can_write_out(self) -> bool:
        """Whether this step may be given an output buffer (`out=`)."""
        return self.kind in ("ufunc", "reduce", "select") and self.shape not in (None, ())

    def overwritable(self) -> tuple[int, ...]:
        """Positions of operands whose storage this step may write its result into."""
        if self.kind == "select":
            return (1,)  # select reads b after writing: only `a` may share the output
        if self.kind == "ufunc" and self.func != "matmul":
            return tuple(range(len(self.args)))
        return ()


@functools.cache
def _takes_out(name: str) -> bool:
    fn = getattr(np, name, None)
    if isinstance(fn, np.ufunc):
        return True
    try:
        return fn is not None and "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _np_name(func: ast.expr) -> str | None:
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "np"
    ):
        return func.attr
    return None


def _is_literal(tree: ast.expr) -> bool:
    try:
        ast.literal_eval(tree)
        return True
    except (ValueError, TypeError, SyntaxError):
        return False


class Flattener:
    """Flattens one template into steps; `shape_of` gives an operand's static shape."""

    def __init__(self, new_temp, shape_of):
        self.new_temp = new_temp
        self.shape_of = shape_of

    def flatten(self, source: str, operands: list[str], shape, dtype) -> list[Step]:
        """Steps computing `source` (placeholders already named _OPk) into a final step."""
        tree = ast.parse(source, mode="eval").body
        self.operands, self.steps = operands, []
        result = self._lower(tree, shape, dtype, top=True)
        if result[0] != "step":  # the template is an operand or a literal: keep as expression
            refs = [result[1]] if result[0] == "var" else []
            self.steps.append(Step("expr", result[1], [], shape=shape, dtype=dtype, refs=refs))
        return self.steps

    def _step(self, kind, func, args, kwargs, shape, dtype, top):
        if not top:
            shapes = [self.shape_of(a) for a in args]
            shape = None if any(s is None for s in shapes) else _broadcast(shapes)
            if kind == "reduce":  # not the broadcast of its operands
                shape = _reduced(shapes[0], func, args, kwargs)
            dtype = "bool" if func in _BOOL_RESULT else dtype
        step = Step(
            kind,
            func,
            args,
            kwargs,
            shape=shape,
            dtype=dtype,
            target="" if top else self.new_temp(),
        )
        self.steps.append(step)
        return ("step", step) if top else ("var", step.target)

    def _lower(self, tree, shape, dtype, top=False):
        if isinstance(tree, ast.Name) and tree.id.startswith("_OP"):
            return ("var", self.operands[int(tree.id[3:])])
        if _is_literal(tree):
            return ("lit", ast.unparse(tree))
        sub = functools.partial(self._lower, shape=shape, dtype=dtype)
        if isinstance(tree, ast.BinOp) and type(tree.op) in _BINOPS:
            args = [sub(tree.left), sub(tree.right)]
            return self._step("ufunc", _BINOPS[type(tree.op)], args, {}, shape, dtype, top)
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.USub, ast.Not)):
            func = "negative" if isinstance(tree.op, ast.USub) else "logical_not"
            return self._step("ufunc", func, [sub(tree.operand)], {}, shape, dtype, top)
        if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in _COMPARE:
            args = [sub(tree.left), sub(tree.comparators[0])]
            return self._step("ufunc", _COMPARE[type(tree.ops[0])], args, {}, shape, dtype, top)
        name = _np_name(tree.func) if isinstance(tree, ast.Call) else None
        if name and all(_is_literal(k.value) for k in tree.keywords):
            kwargs = {k.arg: ast.unparse(k.value) for k in tree.keywords}
            if name == "where" and len(tree.args) == 3 and not kwargs:
                return self._step(
                    "select", "select", [sub(a) for a in tree.args], {}, shape, dtype, top
                )
            if isinstance(getattr(np, name, None), np.ufunc) and "out" not in kwargs:
                return self._step(
                    "ufunc", name, [sub(a) for a in tree.args], kwargs, shape, dtype, top
                )
            if _takes_out(name) and tree.args and all(_is_literal(a) for a in tree.args[1:]):
                args = [sub(tree.args[0])] + [("lit", ast.unparse(a)) for a in tree.args[1:]]
                return self._step("reduce", name, args, kwargs, shape, dtype, top)
        # Anything else (methods, indexing, views) is kept whole, operands by name.
        rename = _Rename(self.operands)
        source = ast.unparse(rename.visit(tree))
        step = Step(
            "expr",
            source,
            [],
            shape=shape if top else None,
            dtype=dtype,
            target="" if top else self.new_temp(),
            refs=sorted(rename.used),
        )
        self.steps.append(step)
        return ("step", step) if top else ("var", step.target)


class _Rename(ast.NodeTransformer):
    def __init__(self, operands):
        self.operands = operands
        self.used: set[str] = set()

    def visit_Name(self, node):  # noqa: N802 - ast's spelling
        if node.id.startswith("_OP"):
            name = self.operands[int(node.id[3:])]
            self.used.add(name)
            return ast.copy_location(ast.Name(name), node)
        return node


def _reduced(shape, func: str, args: list, kwargs: dict) -> tuple | None:
    """The shape of np.sum/max/min/prod(x, axis=..., keepdims=...) of `shape`; None when it
    is not known (another function, or axis given by position)."""
    if shape is None or func not in _REDUCE_UFUNC or len(args) > 1:
        return None
    axis = ast.literal_eval(kwargs.get("axis", "None"))
    keep = ast.literal_eval(kwargs.get("keepdims", "False"))
    axes = {
        a % len(shape)
        for a in (range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis)
    }
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _broadcast(shapes) -> tuple | None:
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        dims = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def render(step: Step) -> str:
    """The source of one step's right-hand side (with `out=` when the planner gave one)."""
    if step.kind == "expr":
        return step.func
    args = [a[1] for a in step.args]
    kwargs = [f"{k}={v}" for k, v in step.kwargs.items()]
    if (
        step.out is None
        and step.kind == "ufunc"
        and step.func in _INFIX
        and not kwargs
        and len(args) == 2
    ):
        return f"{args[0]} {_INFIX[step.func]} {args[1]}"
    if step.out is not None:
        kwargs.append(f"out={step.out}")
    func = step.func if step.kind in ("select", "call") else f"np.{step.func}"
    if step.kind == "reduce" and step.func in _REDUCE_UFUNC:
        func = _REDUCE_UFUNC[step.func]  # same result, without np.sum's Python-level wrapper
    return f"{func}({', '.join(args + kwargs)})"


def template_source(template: str, operands: int, attrs: dict) -> str:
    """The template with inputs as _OP0.. and attributes as Python literals."""
    return template.format(
        *[f"_OP{i}" for i in range(operands)], **{k: literal(v) for k, v in attrs.items()}
    )


def literal(value) -> str:
    """Python source for an attribute value; only plain data is allowed into source."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return repr(None if value is None else bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return repr(value) if np.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise GraphError(
        f"cannot write attribute value {value!r} ({type(value).__name__}) into generated source"
    )
