"""The fast NumPy renderer: a plan becomes a function that writes into reused buffers.

The only part of graphc that knows NumPy's `out=`: each statement that can take it writes
into a pooled buffer or in place into a dying operand (buffers.py decides which). What
keeps small arrays fast is call overhead, so the spelling is the cheapest NumPy has: sums
and maxima as ufunc reductions (np.sum's Python wrapper costs microseconds a call),
indexing for expand_dims and take, methods for transpose and reshape, operators where
there is no buffer, `np.dot` for products of matrices (half `np.matmul`'s call cost, the
same bits), numbers in calls as module-level 0-d arrays (NumPy converts a Python float on
every call); `where` is the runtime's branch-free `select`. A function keeps one
set of buffers per batch size between calls, so it is not re-entrant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .buffers import Buffer, plan_buffers
from .module import Module, helper_takes_out
from .names import comment, literal, np_dtype
from .plan import Plan, Statement
from .spell import INFIX, sliced

_REDUCE = {"sum": "np.add.reduce", "max": "np.maximum.reduce"}
_METHODS = ("transpose", "reshape", "copy")  # x.f(...): no module-level wrapper to pass


def _is_ufunc(call: str) -> bool:
    return isinstance(getattr(np, call, None), np.ufunc)


def can_write_out(statement: Statement) -> bool:
    """Whether the statement may be given an output buffer (`out=`)."""
    if statement.view or statement.shape == ():
        return False
    if statement.helper:  # the convolution's windows: a buffer of the plan, reused per call
        return helper_takes_out(statement.call)
    return statement.call in _REDUCE or statement.call == "where" or _is_ufunc(statement.call)


def overwritable(statement: Statement) -> tuple[int, ...]:
    """Operand positions whose storage the statement may write its result into."""
    if statement.call == "where":
        return (1,)  # select reads b after writing: only `a` may share the output
    if _is_ufunc(statement.call) and statement.call != "matmul":
        return tuple(range(len(statement.args)))
    return ()


@dataclass
class Body:
    """A rendered function body: its lines and its pooled buffers."""

    lines: list[str]
    buffers: list[Buffer] = field(default_factory=list)


def render_body(
    module: Module,
    plan: Plan,
    rng: str | None = None,
    dropout_rate: Callable[[dict], str] | None = None,
) -> Body:
    """The statements of `plan` as NumPy source lines, buffers planned.

    With `rng` (a variable holding a Generator), dropout masks are fresh draws from it;
    `dropout_rate(kwargs)` gives the source of a mask's rate (default: the literal).
    """
    # equal constants of several functions are one module constant
    renamed = {name: module.constant(value, name=name) for name, value in plan.constants.items()}
    buffers = plan_buffers(plan, can_write_out, overwritable)
    lines = []
    for i, statement in enumerate(plan.statements):
        if statement.shape != () and (statement.call == "where" or _is_ufunc(statement.call)):
            statement = _array_scalars(module, statement, plan)
        if statement.call == "matmul" and i in buffers.out and _matrices(statement, plan):
            statement = dataclasses.replace(statement, call="dot")  # half matmul's overhead
        expression = _expression(module, statement, buffers.out.get(i), rng, dropout_rate, renamed)
        text = f"{statement.target} = {expression}"
        if statement.comment:
            text += f"  # {statement.comment}"
        lines.append(text)
    for result, arg in plan.donated.items():  # what the buffer plan could not put in place
        if buffers.storages.get(result) != buffers.storages[arg]:
            lines.append(f"np.copyto({arg}, {result})  # {comment(arg, 40)} in place")
    return Body(lines, buffers.buffers)


def _array_scalars(module, statement: Statement, plan: Plan) -> Statement:
    """The statement with its number operands (literals, 0-d constants) as 0-d arrays of
    the float dtype its array operands share, which NumPy would cast them to anyway."""
    if not any(a[0] == "lit" or a[1] in plan.constants for a in statement.args):
        return statement
    operands = statement.args[1:] if statement.call == "where" else statement.args
    dtypes = {
        plan.dtypes.get(a[1]) for a in operands if a[0] == "var" and a[1] not in plan.constants
    }
    if not dtypes and statement.call == "where":
        dtypes = {statement.dtype}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        return statement
    (dtype,) = dtypes

    def as_array(operand: tuple) -> tuple:
        if operand[0] == "lit" and type(operand[1]) in (int, float):
            return ("var", module.array_scalar(operand[1], dtype))
        value = plan.constants.get(operand[1]) if operand[0] == "var" else None
        if value is not None and value.ndim == 0 and value.dtype == dtype:
            return ("var", module.array_scalar(value, dtype))
        return operand

    return dataclasses.replace(statement, args=[as_array(a) for a in statement.args])


def _matrices(statement: Statement, plan: Plan) -> bool:
    """Whether a product's operands are 2-D arrays of its float dtype (np.dot takes them
    with `out=` and gives matmul's bits)."""
    return statement.dtype in ("float32", "float64") and all(
        a[0] == "var"
        and len(plan.shapes.get(a[1], ())) == 2
        and plan.dtypes.get(a[1]) == statement.dtype
        for a in statement.args
    )


def _operand(operand: tuple, renamed: dict) -> str:
    kind = operand[0]
    if kind == "var":
        return renamed.get(operand[1], operand[1])
    if kind == "lit":
        return literal(operand[1])
    if kind == "shape":
        return f"{operand[1]}.shape"
    dims = [f"{operand[1]}.shape[{a}]" for a in operand[2]]
    return " * ".join(dims) or "1"


def _expression(module, statement: Statement, out, rng, dropout_rate, renamed) -> str:
    args = [_operand(a, renamed) for a in statement.args]
    kwargs = dict(statement.kwargs)
    call = statement.call
    if statement.helper:
        if call == "dropout_mask" and dropout_rate is not None:
            kwargs["rate"] = _Source(dropout_rate(kwargs))
        if call == "dropout_mask" and rng is not None:
            kwargs["rng"] = _Source(rng)
        return f"{module.helper(call)}({_joined(args, kwargs, out)})"
    if call == "asarray":  # a size: a NumPy scalar of the dtype keeps scalar arithmetic cheap
        return f"{np_dtype(kwargs['dtype'])}({args[0]})"
    if call == "transpose" and statement.args[1:] == [("lit", (1, 0))]:
        return f"{args[0]}.T"
    if call in _METHODS:
        return f"{args[0]}.{call}({_joined(args[1:], kwargs, None)})"
    if call == "expand_dims":  # x[:, None]: a view without np.expand_dims' Python wrapper
        axes = statement.args[1][1]
        index = ["None" if k in axes else ":" for k in range(len(statement.shape))]
        return f"{args[0]}[{', '.join(index)}]"
    if call == "slice":
        return sliced(args[0], **kwargs)
    if call == "take" and kwargs == {"axis": -1} and statement.args[1][0] == "lit":
        return f"{args[0]}[..., {args[1]}]"
    if call == "where":
        return f"{module.helper('select')}({_joined(args, kwargs, out)})"
    if call in _REDUCE:
        if not kwargs.get("keepdims"):
            kwargs.pop("keepdims", None)
        return f"{_REDUCE[call]}({_joined(args, kwargs, out)})"
    if out is None and call in INFIX and len(args) == 2 and not kwargs:
        return f"{args[0]} {INFIX[call][0]} {args[1]}"
    if out is None and call == "negative":
        return f"-{args[0]}"
    return f"np.{call}({_joined(args, kwargs, out)})"


def _literal(value) -> str:
    return value if isinstance(value, _Source) else literal(value)


class _Source(str):
    """Keyword source text to write as it is (not as a literal)."""


def _joined(args: list[str], kwargs: dict, out: str | None) -> str:
    parts = list(args)
    parts += [f"{k}={_literal(v)}" for k, v in kwargs.items()]
    if out is not None:
        parts.append(f"out={out}")
    return ", ".join(parts)


def function_source(
    name: str,
    params: list[str],
    body: Body,
    returns: str,
    batch: str | None,
    module: Module,
    prologue: Sequence[str] = (),
    epilogue: Sequence[str] = (),
    doc: str = "",
) -> str:
    """A complete `def` with the buffer pool prologue, the body and the return."""
    lines = [f"def {name}({', '.join(params)}):"]
    if doc:
        lines.append(f'    """{comment(doc, 90)}"""')
    lines += [f"    {line}" for line in prologue]
    if body.buffers:
        pool = module.namer.internal(f"pool_{name}")
        alloc = module.namer.internal(f"alloc_{name}")
        shapes = [_shape_source(b.shape) for b in body.buffers]
        allocs = ", ".join(
            f"np.empty({s}, dtype={np_dtype(b.dtype)})" for s, b in zip(shapes, body.buffers)
        )
        module.add(f"def {alloc}(n):\n    return ({allocs},)\n\n\n{pool} = {{}}")
        names = ", ".join(b.name for b in body.buffers)
        key = batch if batch and any(None in b.shape for b in body.buffers) else "0"
        helper = module.helper("buffers")
        lines += [f"    {names}, = {pool}.get({key}) or {helper}({pool}, {alloc}, {key})"]
    lines += [f"    {line}" for line in body.lines]
    lines += [f"    {line}" for line in epilogue]
    lines.append(f"    return {returns}")
    return "\n".join(lines) + "\n"


def _shape_source(shape: tuple) -> str:
    dims = ["n" if d is None else str(int(d)) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
