"""The local derivatives as the lecture writes them on the board, for the gate view: one text
per input of an op (with the input's name filled in), and one block per composite. Ops marked
elementwise also get the local derivative's numbers (their vjp rule with an upstream of 1)."""

from __future__ import annotations

from collections.abc import Callable

# op -> (elementwise, rule per input given the input names)
Rule = tuple[bool, Callable[..., tuple[str, ...]]]

OP_RULES: dict[str, Rule] = {
    "add": (True, lambda a, b: ("1", "1")),
    "sub": (True, lambda a, b: ("1", "−1")),
    "mul": (True, lambda a, b: (b, a)),
    "div": (True, lambda a, b: (f"1/{b}", f"−{a}/{b}²")),
    "neg": (True, lambda a: ("−1",)),
    "pow": (True, lambda a, b: (f"{b}·{a}^({b}−1)", f"{a}^{b}·log {a}")),
    "exp": (True, lambda a: (f"exp({a})",)),
    "log": (True, lambda a: (f"1/{a}",)),
    "sqrt": (True, lambda a: (f"1/(2√{a})",)),
    "abs": (True, lambda a: (f"sign({a})",)),
    "sigmoid": (True, lambda a: (f"σ({a})(1 − σ({a}))",)),
    "tanh": (True, lambda a: (f"1 − tanh²({a})",)),
    "softplus": (True, lambda a: (f"σ({a})",)),
    "relu": (True, lambda a: (f"relu'({a}) = 1 if {a} > 0 else 0",)),
    "prelu": (
        True,
        lambda a, b: (f"prelu'({a}) = 1 if {a} > 0 else {b}", f"{a} if {a} < 0 else 0"),
    ),
    "maximum": (True, lambda a, b: (f"1 if {a} ≥ {b} else 0", f"1 if {b} > {a} else 0")),
    "where": (True, lambda c, a, b: ("", f"1 where {c}", f"1 where not {c}")),
    "matmul": (False, lambda a, b: (f"upstream · {b}ᵀ", f"{a}ᵀ · upstream")),
    "sum": (False, lambda a: ("1: upstream copied to every summed entry",)),
    "sum_to": (False, lambda a: ("1: upstream copied back",)),
    "broadcast_like": (False, lambda a, b: ("1: upstream summed over the copies", "")),
    "transpose": (False, lambda a: ("upstream transposed back",)),
    "reshape": (False, lambda a: ("upstream reshaped back",)),
    "expand_dims": (False, lambda a: ("upstream with the axis dropped",)),
    "index_last": (False, lambda a: ("1 at the picked entry, 0 elsewhere",)),
    "log_softmax": (False, lambda a: (f"upstream − softmax({a}) · Σ upstream",)),
    "softmax": (False, lambda a: ("s ⊙ (upstream − Σ upstream ⊙ s), s = softmax",)),
    "logsumexp": (False, lambda a: (f"softmax({a})",)),
    "select_mode": (False, lambda a, b: ("1 in training", "1 in inference")),
    "update_state": (True, lambda a, b: ("1", "")),
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


def op_rule(op: str, names: list[str]) -> tuple[bool, tuple[str, ...]]:
    """(elementwise?, the local derivative's text per input) of an op; ops without a board
    rule say which rule reverse mode runs."""
    if op in OP_RULES:
        elementwise, rule = OP_RULES[op]
        return elementwise, rule(*names)
    return False, tuple(f"{op}'s vjp rule" for _ in names)
