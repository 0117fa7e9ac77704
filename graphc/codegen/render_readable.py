"""The readable NumPy renderer: a plan becomes plain NumPy, one statement per line with
Python's operators where NumPy has them (`x @ W`, `z > 0`) and the op and user's line as
its comment; no buffers and no `out=` (gc.lower(..., target="readable"))."""

from __future__ import annotations

from .module import Module
from .names import literal
from .plan import Plan
from .spell import expression, operand


def render_body(module: Module, plan: Plan) -> tuple[list[str], list[str]]:
    """(source lines, result variables) of `plan` in NumPy."""
    # equal constants of several functions are one module constant
    renamed = {name: module.constant(value, name=name) for name, value in plan.constants.items()}
    lines = []
    for statement in plan.statements:
        args = [operand(a, renamed) for a in statement.args]
        if statement.helper:
            keywords = [f"{k}={literal(v)}" for k, v in statement.kwargs.items()]
            text = f"{module.helper(statement.call)}({', '.join(args + keywords)})"
        elif statement.call == "copy":  # a result the caller may change: not its argument
            text = f"np.copy({args[0]})"
        else:
            text = expression("np", statement.call, args, statement.kwargs)
        text = f"{statement.target} = {text}"
        lines.append(f"{text}  # {statement.comment}" if statement.comment else text)
    return lines, [renamed.get(v, v) for v in plan.results]
