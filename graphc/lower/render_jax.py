"""The JAX renderer: a plan (plan.py) becomes the body of one pure function of arrays, one
`jnp` call per statement, with no buffers and no in-place writes (XLA plans the memory).

A statement's `call` is an array-API function that NumPy and jax.numpy spell alike, so it
is written as `jnp.<call>(...)` (or an operator, or a method for transpose and reshape).
The one helper, dropout_mask, draws from the function's PRNG key, one `fold_in` per mask.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from .module import Module
from .names import literal
from .plan import Plan, Statement

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
_METHODS = ("transpose", "reshape")  # x.f(...): read like the NumPy module's


def render_body(
    module: Module, plan: Plan, key: str | None = None, dropout_rate: Callable | None = None
) -> list[str]:
    """The statements of `plan` as jax.numpy source lines. With `key` (a variable holding a
    PRNG key) dropout masks are drawn from it; `dropout_rate(kwargs)` gives the source of
    a mask's rate (default: the literal)."""
    for name, value in plan.constants.items():
        module.constant(value, name=name)
    lines, masks = [], 0
    for statement in plan.statements:
        if statement.helper:
            if key is None:
                raise ValueError(f"{statement.call} needs a PRNG key")
            rate = dropout_rate(statement.kwargs) if dropout_rate else None
            expression = _dropout(statement, f"jax.random.fold_in({key}, {masks})", rate)
            masks += 1
        else:
            expression = _expression(statement)
        text = f"{statement.target} = {expression}"
        lines.append(f"{text}  # {statement.comment}" if statement.comment else text)
    return lines


def _operand(operand: tuple) -> str:
    kind = operand[0]
    if kind == "var":
        return operand[1]
    if kind == "lit":
        text = literal(operand[1])
        return f"({text})" if text.startswith("-") else text
    if kind == "shape":
        return f"{operand[1]}.shape"
    return " * ".join(f"{operand[1]}.shape[{a}]" for a in operand[2]) or "1"


def _expression(statement: Statement) -> str:
    args = [_operand(a) for a in statement.args]
    kwargs = [f"{k}={literal(v)}" for k, v in statement.kwargs.items()]
    call = statement.call
    if call == "copy":  # arrays are immutable: the value itself
        return args[0]
    if call in _METHODS:
        return f"{args[0]}.{call}({', '.join(args[1:] + kwargs)})"
    if call in _INFIX and len(args) == 2 and not kwargs:
        return f"{args[0]} {_INFIX[call]} {args[1]}"
    if call == "negative" and not kwargs:
        return f"-{args[0]}"
    return f"jnp.{call}({', '.join(args + kwargs)})"


def _dropout(statement: Statement, key: str, rate: str | None) -> str:
    (x,) = [_operand(a) for a in statement.args]
    return f"dropout_mask({key}, {x}, {rate or literal(statement.kwargs['rate'])})"


def is_installed() -> bool:
    """Whether JAX can be imported here (checked without importing it)."""
    return importlib.util.find_spec("jax") is not None
