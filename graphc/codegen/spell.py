"""What every renderer writes alike: a plan statement's operands as source, and a call as
Python's operator where there is one (`x @ W`, `z > 0`), a method for transpose and
reshape, or `<prefix>.<call>(...)` (np.exp, jnp.exp): NumPy and jax.numpy spell the
array-API functions of a plan the same way."""

from __future__ import annotations

from .names import literal

# the Python operator of each binary primitive that has one (every target's arrays take it),
# with its binding strength (higher binds tighter): comparisons 2, + - 4, * / @ 5, unary
# minus 6, ** 7; calls and names are atoms
INFIX = {
    "add": ("+", 4),
    "subtract": ("-", 4),
    "multiply": ("*", 5),
    "divide": ("/", 5),
    "matmul": ("@", 5),
    "power": ("**", 7),
    "greater": (">", 2),
    "greater_equal": (">=", 2),
    "less": ("<", 2),
    "less_equal": ("<=", 2),
    "equal": ("==", 2),
}
METHODS = ("transpose", "reshape")  # x.f(...): read like the NumPy user writes them


def operand(value: tuple, renamed: dict[str, str]) -> str:
    """Source of a plan operand: a variable (renamed when it is a shared constant), a
    literal, a run-time shape, or a product of run-time sizes."""
    kind = value[0]
    if kind == "var":
        return renamed.get(value[1], value[1])
    if kind == "lit":
        text = literal(value[1])
        return f"({text})" if text.startswith("-") else text
    if kind == "shape":
        return f"{value[1]}.shape"
    return " * ".join(f"{value[1]}.shape[{a}]" for a in value[2]) or "1"


def sliced(x: str, axis: int, start: int, stop: int, step: int) -> str:
    """Basic indexing of `x` (an atom's source) along one axis: x[:, start:stop:step]."""
    steps = f":{step}" if step != 1 else ""
    return f"{x}[{':, ' * axis}{start}:{stop}{steps}]"


def expression(prefix: str, call: str, args: list[str], kwargs: dict) -> str:
    """A call of array-API function `call` as an operator, a method or `prefix.call(...)`;
    "copy" is the value itself (pure targets: nothing writes the caller's arrays)."""
    keywords = [f"{k}={literal(v)}" for k, v in kwargs.items()]
    if call == "copy":
        return args[0]
    if call == "slice":
        return sliced(args[0], **kwargs)
    if call == "transpose" and args[1:] == ["(1, 0)"] and not keywords:
        return f"{args[0]}.T"
    if call in METHODS:
        return f"{args[0]}.{call}({', '.join(args[1:] + keywords)})"
    if call in INFIX and len(args) == 2 and not keywords:
        return f"{args[0]} {INFIX[call][0]} {args[1]}"
    if call == "negative" and not keywords:
        return f"-{args[0]}"
    return f"{prefix}.{call}({', '.join(args + keywords)})"
