"""Losses and regularizers, composed from stable primitives: softmax cross-entropy through
log_softmax, binary cross-entropy with logits through softplus."""

from __future__ import annotations

from ..errors import ShapeError
from ..ir import Node, user_site
from .composite import composite
from .elementwise import softplus
from .reductions import log_softmax, mean
from .reductions import sum as reduce_sum
from .registry import F, lift
from .shape import one_hot


def _same_shape(what: str, pred: Node, target: Node) -> None:
    """Refuse silent broadcasting between a prediction and its target: (N,) vs (N, 1) would
    otherwise give an (N, N) loss."""
    ok = pred.ndim == target.ndim and all(
        a is None or b is None or a == b for a, b in zip(pred.shape, target.shape)
    )
    if not ok:
        raise ShapeError(
            f"{user_site()}: {what}: prediction shape {pred.shape} and target "
            f"shape {target.shape} differ"
        )


@composite(
    label="mean squared error",
    board=lambda pred, target, training: (
        f"∂/∂{pred} = 2 ({pred} − {target}) / n, n = number of entries",
    ),
)
def mse(pred, target) -> Node:
    """Mean squared error over all elements."""
    pred = lift(pred)
    target = lift(target, pred)
    _same_shape("mse", pred, target)
    diff = pred - target
    return mean(diff * diff)


@composite(
    label="binary cross-entropy (logits)",
    predicts="logits",
    board=lambda logits, target, training: (
        f"∂/∂{logits} = (σ({logits}) − {target}) / n, n = number of entries",
    ),
)
def binary_cross_entropy_with_logits(logits, target) -> Node:
    """Mean binary cross-entropy of sigmoid(logits) against 0/1 targets, computed as
    softplus(z) - z * t so that logits of any size stay finite."""
    logits = lift(logits)
    target = lift(target, logits)
    _same_shape("binary_cross_entropy_with_logits", logits, target)
    return mean(softplus(logits) - logits * target)


@composite(
    label="softmax cross-entropy",
    predicts="logits",
    board=lambda logits, labels, training: (
        f"p = softmax({logits}), N = rows in the batch",
        f"∂/∂{logits} = (p − {labels}) / N, {labels} as one-hot rows",
    ),
)
def softmax_cross_entropy(logits, labels) -> Node:
    """Mean over the batch of -log softmax(logits)[label]; `labels` are integer class ids
    of shape (batch,) or one-hot (probability) rows shaped like `logits`."""
    logits = lift(logits)
    labels = lift(labels)
    if logits.ndim != 2 or logits.shape[-1] is None:
        raise ShapeError(
            f"{user_site()}: softmax_cross_entropy needs logits of shape "
            f"(batch, classes), got {logits.shape}"
        )
    if labels.dtype.startswith("int"):
        if labels.ndim != 1 or not (
            labels.shape[0] is None or logits.shape[0] is None or labels.shape[0] == logits.shape[0]
        ):
            raise ShapeError(
                f"{user_site()}: softmax_cross_entropy: integer labels must have "
                f"shape (batch,), got {labels.shape} for logits {logits.shape}"
            )
        labels = one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    elif labels.ndim == logits.ndim - 1:
        raise ShapeError(
            f"{user_site()}: softmax_cross_entropy: labels of shape {labels.shape} are class "
            f"ids, which must be integers (gc.input(..., dtype='int64')), got {labels.dtype}"
        )
    else:
        _same_shape("softmax_cross_entropy", logits, labels)
    return -mean(reduce_sum(labels * log_softmax(logits, axis=-1), axis=-1))


@composite(label="L2 penalty", board=lambda w, training: (f"∂/∂{w} = 2 {w}",))
def l2(w) -> Node:
    """Sum of squares of w (the L2 penalty, without the 1/2)."""
    w = lift(w)
    return reduce_sum(w * w)


@composite(label="L1 penalty", board=lambda w, training: (f"∂/∂{w} = sign({w})",))
def l1(w) -> Node:
    """Sum of absolute values of w (the L1 penalty)."""
    return reduce_sum(F.abs(lift(w)))
