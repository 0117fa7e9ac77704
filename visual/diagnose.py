"""The lecture's reading of learning curves: a large gap between training and validation loss
is overfitting; no gap but a loss that stays high is underfitting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from graphc import GraphError

GAP = 0.2  # validation loss more than 20% above training loss: a large gap
RISE = 0.05  # validation loss 5% above its minimum at the end: it has turned upwards
HIGH = 0.5  # the loss kept more than half of its first value: it stayed high


@dataclass(frozen=True)
class Reading:
    """What the curves say: kind is 'overfitting', 'underfitting', 'good fit' or
    'no validation'; text explains it in one sentence."""

    kind: str
    text: str
    gap: float | None
    best_epoch: float | None


def diagnose(history: Mapping, high_loss: float | None = None) -> Reading:
    """Read a training history: overfitting, underfitting or a good fit.

    The loss counts as high above `high_loss`, or, without it, when the last training loss
    is more than half of the first.
    """
    try:
        loss = np.asarray(history["loss"], dtype=float)
        epoch = np.asarray(history["epoch"], dtype=float)
    except KeyError as missing:
        raise GraphError(
            f"a training history needs 'epoch' and 'loss'; {missing} is missing"
        ) from None
    if loss.size == 0 or loss.shape != epoch.shape:
        raise GraphError(
            f"a training history needs one loss per epoch, got {loss.size} losses "
            f"for {epoch.size} epochs"
        )
    high = loss[-1] > (high_loss if high_loss is not None else HIGH * loss[0])
    if "val_loss" not in history:
        if high:
            return Reading(
                "underfitting",
                "the training loss stays high: the model is too small or trains too briefly",
                None,
                None,
            )
        return Reading(
            "no validation",
            "the training loss falls; a validation set is needed to see overfitting",
            None,
            None,
        )
    val = np.asarray(history["val_loss"], dtype=float)
    if val.shape != loss.shape:
        raise GraphError(f"val_loss has {val.size} values for {loss.size} epochs")
    best = int(np.argmin(val))
    gap = float((val[-1] - loss[-1]) / max(abs(val[-1]), 1e-12))
    rising = best < len(val) - 1 and val[-1] > val[best] * (1 + RISE)
    if gap > GAP or (rising and gap > 0):
        return Reading(
            "overfitting",
            f"validation loss is {gap:.0%} above training loss"
            + (f" and has risen since epoch {epoch[best]:g} (stop there)" if rising else "")
            + ": regularize, add data or stop earlier",
            gap,
            float(epoch[best]),
        )
    if high:
        return Reading(
            "underfitting",
            "no gap between training and validation, but the loss "
            "stays high: a bigger model or longer training",
            gap,
            float(epoch[best]),
        )
    return Reading(
        "good fit",
        "training and validation loss fall together with a small gap",
        gap,
        float(epoch[best]),
    )
