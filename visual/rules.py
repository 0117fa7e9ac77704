"""The local derivatives as the lecture writes them on the board, for the gate view: one text
per input of an op (from the op's own `OpDef.board`, with the input's name filled in), and one
block per composite. Whether a gate also shows the local derivative's numbers is the op's own
fact (`OpDef.elementwise`)."""

from __future__ import annotations

from graphc.ops.registry import REGISTRY

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
    board = REGISTRY[op].board
    if board is not None:
        return board(*names)
    return tuple(f"{op}'s vjp rule" for _ in names)
