"""The JAX renderer: a plan (plan.py) becomes the body of one pure function of arrays, one
`jnp` call per statement, with no buffers and no in-place writes (XLA plans the memory).

A statement's `call` is an array-API function that NumPy and jax.numpy spell alike, so it
is written as `jnp.<call>(...)` (or an operator, or a method for transpose and reshape).
A helper is a function of jax_runtime.py (the convolution's windows and overlap_add); dropout_mask
draws from the function's PRNG key, one `fold_in` per mask.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from ..errors import GraphError
from .module import Module
from .names import literal
from .plan import INFIX, Plan

_METHODS = ("transpose", "reshape")  # x.f(...): read like the NumPy module's


def render_body(
    module: Module, plan: Plan, key: str | None = None, dropout_rate: Callable | None = None
) -> tuple[list[str], list[str]]:
    """(source lines, result variables) of `plan` in jax.numpy. With `key` (a variable
    holding a PRNG key) dropout masks are drawn from it; `dropout_rate(kwargs)` gives the
    source of a mask's rate (default: the literal)."""
    # equal constants of several functions are one module constant
    renamed = {name: module.constant(value, name=name) for name, value in plan.constants.items()}
    lines, masks = [], 0
    for statement in plan.statements:
        args = [_operand(a, renamed) for a in statement.args]
        if statement.helper and statement.call != "dropout_mask":  # jax_runtime's function
            keywords = [f"{k}={literal(v)}" for k, v in statement.kwargs.items()]
            expression = f"{statement.call}({', '.join(args + keywords)})"
        elif statement.helper:
            if key is None:
                raise GraphError(f"the JAX renderer has no helper {statement.call!r} here")
            rate = dropout_rate(statement.kwargs) if dropout_rate else None
            rate = rate or literal(statement.kwargs["rate"])
            expression = f"dropout_mask(jax.random.fold_in({key}, {masks}), {args[0]}, {rate})"
            masks += 1
        else:
            expression = _expression(statement.call, args, statement.kwargs)
        text = f"{statement.target} = {expression}"
        lines.append(f"{text}  # {statement.comment}" if statement.comment else text)
    return lines, [renamed.get(v, v) for v in plan.results]


def _operand(operand: tuple, renamed: dict[str, str]) -> str:
    kind = operand[0]
    if kind == "var":
        return renamed.get(operand[1], operand[1])
    if kind == "lit":
        text = literal(operand[1])
        return f"({text})" if text.startswith("-") else text
    if kind == "shape":
        return f"{operand[1]}.shape"
    return " * ".join(f"{operand[1]}.shape[{a}]" for a in operand[2]) or "1"


def _expression(call: str, args: list[str], kwargs: dict) -> str:
    keywords = [f"{k}={literal(v)}" for k, v in kwargs.items()]
    if call == "copy":  # arrays are immutable: the value itself
        return args[0]
    if call in _METHODS:
        return f"{args[0]}.{call}({', '.join(args[1:] + keywords)})"
    if call in INFIX and len(args) == 2 and not keywords:
        return f"{args[0]} {INFIX[call]} {args[1]}"
    if call == "negative" and not keywords:
        return f"-{args[0]}"
    return f"jnp.{call}({', '.join(args + keywords)})"


def is_installed() -> bool:
    """Whether JAX can be imported here (checked without importing it)."""
    return importlib.util.find_spec("jax") is not None
