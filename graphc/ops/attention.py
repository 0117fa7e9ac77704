"""Scaled dot-product attention, torch.nn.functional.scaled_dot_product_attention's
contract, as a composite drawn as one box."""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_flag, real_number
from ..errors import DtypeError, GraphError, ShapeError
from ..ir import Node, user_site
from .composite import composite
from .reductions import softmax
from .registry import broadcast_shapes, lift
from .shape import matmul, transpose


def _swap_last(k: Node) -> Node:
    """k with its last two axes swapped (kᵀ of each batch and head)."""
    return transpose(k, tuple(range(k.ndim - 2)) + (k.ndim - 1, k.ndim - 2))


def attention_weights(q, k, mask=None, causal: bool = False, scale: float | None = None):
    """softmax(q kᵀ · scale + mask) over the keys: (..., L, S), each row summing to 1 (the
    matrix `visual.attention_map` draws); the arguments as for `attention`."""
    q, k = lift(q), lift(k)
    if min(q.ndim, k.ndim) < 2:
        raise ShapeError(f"{user_site()}: attention needs (..., length, features) inputs")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(
            f"{user_site()}: attention: q {q.shape} and k {k.shape} do not fit (q and k share "
            "their feature size)"
        )
    if causal and mask is not None:
        raise GraphError(f"{user_site()}: attention takes a mask or causal=True, not both")
    if q.shape[-1] is None:
        raise ShapeError(f"{user_site()}: attention needs a known feature size, got {q.shape}")
    causal = check_flag(causal, f"{user_site()}: attention: causal")
    if scale is not None:
        scale = real_number(scale, f"{user_site()}: attention: scale")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = matmul(q, _swap_last(k)) * scale  # (..., L, S)
    if causal:
        length, keys = q.shape[-2], k.shape[-2]
        if length is None or keys is None:
            raise ShapeError(f"{user_site()}: a causal mask needs known lengths, got {q.shape}")
        mask = np.tril(np.ones((length, keys), dtype=bool))
    if mask is not None:
        mask = _checked_mask(lift(mask), scores.shape)
        if mask.dtype != "bool":
            scores, mask = scores + mask, None
    return softmax(scores, axis=-1, mask=mask)


def _checked_mask(mask: Node, scores: tuple) -> Node:
    """A mask of booleans (True: may attend) or floats (added to the scores) that
    broadcasts to the scores (..., L, S), as torch's scaled_dot_product_attention takes."""
    if mask.dtype != "bool" and not mask.dtype.startswith("float"):
        raise DtypeError(
            f"{user_site()}: attention: the mask must hold booleans (True where a query may "
            f"attend) or floats (added to the scores), got {mask.dtype}"
        )
    try:
        broadcast_shapes(mask.shape, scores)
    except ShapeError:
        raise ShapeError(
            f"{user_site()}: attention: the mask of shape {mask.shape} does not broadcast to the "
            f"scores (..., L, S) = {scores}"
        ) from None
    return mask


def _attention_board(q, k, v, mask, causal, scale, *, training):
    """Attention's forward and backward in the names of its inputs: the softmax's rule on
    the weights A, then two matrix products (δ is the upstream gradient, s the scale)."""
    masked = " + mask" if mask != "None" else " (causal mask)" if causal == "True" else ""
    s = f"s = {scale}" if scale != "None" else "s = 1/√(features)"
    return (
        f"A = softmax({q} {k}ᵀ · s{masked}) over the keys, out = A {v}",
        f"{s}, δ = upstream",
        f"∂/∂{v} = Aᵀ δ, ∂A = δ {v}ᵀ, ∂S = A ⊙ (∂A − rowsum(∂A ⊙ A))",
        f"∂/∂{q} = s · ∂S {k}, ∂/∂{k} = s · ∂Sᵀ {q}",
    )


@composite(label="attention", board=_attention_board)
def attention(q, k, v, mask=None, causal: bool = False, scale: float | None = None) -> Node:
    """softmax(q kᵀ · scale + mask) v over the last two axes, with any leading (batch,
    head) axes broadcast: q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev).

    As torch.nn.functional.scaled_dot_product_attention: `scale` defaults to 1/√E; a
    boolean `mask` (broadcasting to (..., L, S)) is True where a query may attend to a key,
    a float mask is added to the scores; `causal=True` lets query i see keys 0..i (the
    top-left triangle) and takes no mask."""
    v = lift(v)
    if v.ndim < 2 or lift(k).ndim < 2 or lift(k).shape[-2] != v.shape[-2]:
        raise ShapeError(
            f"{user_site()}: attention: k {lift(k).shape} and v {v.shape} do not fit "
            "(k and v share their length)"
        )
    weights = attention_weights(q, k, mask=mask, causal=causal, scale=scale)
    return matmul(weights, v)
