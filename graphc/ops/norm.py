"""Layer normalization (torch.nn.functional.layer_norm over the last axis), a composite
drawn as one box."""

from __future__ import annotations

from ..errors import GraphError, ShapeError
from ..ir import Node, user_site
from .composite import composite
from .elementwise import sqrt
from .reductions import mean
from .registry import lift


@composite(
    label="layer norm",
    board=lambda x, gamma, beta, *_, training: (
        f"x̂ = ({x} − mean) / σ, σ = √(variance + ε), over the features of each row",
        # gamma varies along the features the means run over: it scales δ before them
        f"∂/∂{x} = (ĝ − mean ĝ − x̂ · mean(ĝ·x̂)) / σ, means over the features",
        f"ĝ = {gamma}·δ: {gamma} scales δ before the means",
        f"∂/∂{gamma} = Σ δ·x̂, ∂/∂{beta} = Σ δ (Σ over the rows, δ = upstream)",
    ),
)
def layer_norm(x, gamma, beta, eps: float = 1e-5) -> Node:
    """Normalize each row over its last axis to mean 0 and variance 1 (the biased variance,
    as torch), then scale by `gamma` and shift by `beta` (shape (features,)). The same in
    training and inference: no running statistics."""
    x = lift(x)
    gamma, beta = lift(gamma, x), lift(beta, x)
    if x.ndim < 1 or x.shape[-1] is None:
        raise ShapeError(
            f"{user_site()}: layer_norm needs an input with a known last (feature) size, "
            f"got {x.shape}"
        )
    features = x.shape[-1:]
    for what, p in (("gamma", gamma), ("beta", beta)):
        if p.shape not in ((), features):
            raise ShapeError(
                f"{user_site()}: layer_norm: {what} has shape {p.shape}, "
                f"expected {features} for input {x.shape}"
            )
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
        raise GraphError(f"{user_site()}: layer_norm eps must be a positive number, got {eps!r}")
    centered = x - mean(x, axis=-1, keepdims=True)
    variance = mean(centered * centered, axis=-1, keepdims=True)
    return centered / sqrt(variance + float(eps)) * gamma + beta
