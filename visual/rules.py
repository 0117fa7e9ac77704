"""The local derivatives as the lecture writes them on the board, for the gate view: one text
per input of an op (with the input's name filled in), and one block per composite. Whether a
gate also shows the local derivative's numbers is the op's own fact (`OpDef.elementwise`)."""

from __future__ import annotations

from collections.abc import Callable

# op -> the rule of each input, given the inputs' names
OP_RULES: dict[str, Callable[..., tuple[str, ...]]] = {
    "add": lambda a, b: ("1", "1"),
    "sub": lambda a, b: ("1", "−1"),
    "mul": lambda a, b: (b, a),
    "div": lambda a, b: (f"1/{b}", f"−{a}/{b}²"),
    "neg": lambda a: ("−1",),
    "pow": lambda a, b: (f"{b}·{a}^({b}−1)", f"{a}^{b}·log {a}"),
    "exp": lambda a: (f"exp({a})",),
    "log": lambda a: (f"1/{a}",),
    "sqrt": lambda a: (f"1/(2√{a})",),
    "abs": lambda a: (f"sign({a})",),
    "sigmoid": lambda a: (f"σ({a})(1 − σ({a}))",),
    "tanh": lambda a: (f"1 − tanh²({a})",),
    "softplus": lambda a: (f"σ({a})",),
    "relu": lambda a: (f"relu'({a}) = 1 if {a} > 0 else 0",),
    "prelu": lambda a, b: (f"prelu'({a}) = 1 if {a} > 0 else {b}", f"{a} if {a} < 0 else 0"),
    "maximum": lambda a, b: (f"1 if {a} ≥ {b} else 0", f"1 if {b} > {a} else 0"),
    "where": lambda c, a, b: ("", f"1 where {c}", f"1 where not {c}"),
    "matmul": lambda a, b: (f"upstream · {b}ᵀ", f"{a}ᵀ · upstream"),
    "sum": lambda a: ("1: upstream copied to every summed entry",),
    "sum_to": lambda a: ("1: upstream copied back",),
    "broadcast_like": lambda a, b: ("1: upstream summed over the copies", ""),
    "transpose": lambda a: ("upstream transposed back",),
    "reshape": lambda a: ("upstream reshaped back",),
    "expand_dims": lambda a: ("upstream with the axis dropped",),
    "index_last": lambda a: ("1 at the picked entry, 0 elsewhere",),
    "log_softmax": lambda a: (f"upstream − softmax({a}) · Σ upstream",),
    "softmax": lambda a: ("s ⊙ (upstream − Σ upstream ⊙ s), s = softmax",),
    "logsumexp": lambda a: (f"softmax({a})",),
    "select_mode": lambda a, b: ("1 in training", "1 in inference"),
    "update_state": lambda a, b: ("1", ""),
}

COMPOSITE_RULES: dict[str, tuple[str, ...]] = {
    "softmax_cross_entropy": ("∂/∂z = (p − y) / N, p = softmax(z)",),
    "binary_cross_entropy_with_logits": ("∂/∂z = (σ(z) − t) / N",),
    "mse": ("∂/∂p = 2 (p − t) / n",),
    "l2": ("∂/∂w = 2 w",),
    "l1": ("∂/∂w = sign(w)",),
    "batch_norm": (
        "x̂ = (x − μ_batch) / σ_batch",
        "∂/∂x = γ/σ · (g − mean g − x̂ · mean(g x̂))",
        "∂/∂γ = Σ g x̂, ∂/∂β = Σ g",
    ),
    "dropout": ("∂/∂x = mask (training), 1 (inference)",),
}


def op_rule(op: str, names: list[str]) -> tuple[str, ...]:
    """The local derivative's text per input of an op; an op without a board rule says which
    rule reverse mode runs."""
    if op in OP_RULES:
        return OP_RULES[op](*names)
    return tuple(f"{op}'s vjp rule" for _ in names)
