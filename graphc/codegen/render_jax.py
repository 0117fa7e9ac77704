"""The JAX renderer: a plan (plan.py) becomes the body of one pure function of arrays, one
`jnp` call per statement, with no buffers and no in-place writes (XLA plans the memory).

A statement's `call` is an array-API function that NumPy and jax.numpy spell alike, so it
is written as `jnp.<call>(...)` (or an operator, or a method for transpose and reshape).
A helper is a function of jax_runtime.py (the convolution's windows and overlap_add);
dropout_mask draws from the function's PRNG key, one `fold_in` per mask (without a key, the
op's own seeded mask: jax_runtime.seeded_dropout_mask).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from .module import Module
from .names import literal
from .plan import Plan
from .spell import expression, operand


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
        args = [operand(a, renamed) for a in statement.args]
        if statement.helper and statement.call != "dropout_mask":  # a jax_runtime function
            keywords = [f"{k}={literal(v)}" for k, v in statement.kwargs.items()]
            text = f"{statement.call}({', '.join(args + keywords)})"
        elif statement.helper:
            rate = dropout_rate(statement.kwargs) if dropout_rate else None
            rate = rate or literal(statement.kwargs["rate"])
            if key is None:  # the op's own seeded mask, as gc.evaluate draws it
                seed = literal(statement.kwargs["seed"])
                text = f"seeded_dropout_mask({args[0]}, {rate}, {seed})"
            else:
                text = f"dropout_mask(jax.random.fold_in({key}, {masks}), {args[0]}, {rate})"
                masks += 1
        else:
            text = expression("jnp", statement.call, args, statement.kwargs)
        text = f"{statement.target} = {text}"
        lines.append(f"{text}  # {statement.comment}" if statement.comment else text)
    return lines, [renamed.get(v, v) for v in plan.results]


def is_installed() -> bool:
    """Whether JAX can be imported here (checked without importing it)."""
    return importlib.util.find_spec("jax") is not None
