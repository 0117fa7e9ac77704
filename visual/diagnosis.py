"""The lecture's reading of learning curves, with the numbers it rests on.

Overfitting: the validation loss has turned upwards (risen for several epochs in a row by more
than its own epoch-to-epoch noise, read on a smoothed curve), or it sits far above the training
loss and the gap keeps growing. Underfitting: both losses stay high and close. A good fit
otherwise. One noisy epoch is not a trend, so nothing is judged on the last value alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from graphc import GraphError

PATIENCE = 3  # epochs in a row the smoothed validation loss must stay risen
NOISE_FLOOR = 0.01  # noise below 1% of the loss is a float artefact, not a measurement
LARGE_GAP = 1.0  # validation loss at least twice the training loss
HIGH = 0.5  # the training loss kept more than half of its first epoch's value
CLOSE = 0.25  # underfitting's losses are within 25% of each other


@dataclass(frozen=True)
class Reading:
    """What the curves say and the numbers behind it.

    kind is 'overfitting', 'underfitting', 'good fit' or 'no validation'; text says it in a
    sentence; gap is (validation - training) / training loss, both smoothed over the last
    epochs; best_epoch is where the smoothed validation loss was lowest; rise is how far
    it has climbed since, and noise its epoch-to-epoch scatter."""

    kind: str
    text: str
    gap: float | None = None
    best_epoch: float | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    rise: float | None = None
    noise: float | None = None


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """A centred moving average of `width` epochs (narrower at the ends)."""
    half = width // 2
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    low = np.maximum(np.arange(len(values)) - half, 0)
    high = np.minimum(np.arange(len(values)) + half + 1, len(values))
    return (cumulative[high] - cumulative[low]) / (high - low)


def gap_words(train: float, val: float, epochs: int = 1) -> str:
    """The gap in words that match its number: 'x % above', 'n times', 'x % below'; the
    losses are averages over the last `epochs`."""
    numbers = f"validation loss {val:.3g}, training loss {train:.3g}"
    if epochs > 1:
        numbers = f"averaged over the last {epochs} epochs, {numbers}"
    if train <= 0:
        return numbers
    gap = (val - train) / train
    if gap >= 1:
        ratio = val / train
        return f"{numbers}: validation is {ratio:,.{0 if ratio >= 100 else 1}f} times training"
    if abs(gap) < 0.01:
        return f"{numbers}: validation is within 1% of training"
    if gap >= 0:
        return f"{numbers}: validation is {gap:.0%} above training"
    return (
        f"{numbers}: validation is {-gap:.0%} below training (the training loss is averaged "
        "over an epoch in which the model still improved, with dropout on if it has any)"
    )


def _series(history: Mapping, key: str, length: int | None = None) -> np.ndarray:
    try:
        values = np.asarray(history[key], dtype=float)
    except KeyError:
        raise GraphError(f"a training history needs {key!r}; got keys {sorted(history)}") from None
    if values.ndim != 1 or values.size == 0 or (length is not None and values.size != length):
        raise GraphError(
            f"a training history needs one {key!r} per epoch, got shape {values.shape}"
            + (f" for {length} epochs" if length is not None else "")
        )
    return values


def diagnose(history: Mapping, high_loss: float | None = None) -> Reading:
    """Read a training history (epoch, loss, val_loss): overfitting, underfitting or a good fit.

    The training loss counts as high above `high_loss` (for instance log(classes), the loss
    of guessing) or, without it, when it kept more than half of its first epoch's value.
    """
    epoch = _series(history, "epoch")
    loss = _series(history, "loss", epoch.size)
    width = min(max(3, epoch.size // 10), 9) | 1  # odd, a tenth of the run, at most 9 epochs
    train = smooth(loss, width)
    high = train[-1] > (high_loss if high_loss is not None else HIGH * loss[0])
    if "val_loss" not in history:
        if high:
            return Reading(
                "underfitting",
                f"the training loss stays high ({loss[0]:.3g} at first, {train[-1]:.3g} at "
                "the end): a bigger model or longer training",
                train_loss=float(train[-1]),
            )
        return Reading(
            "no validation",
            f"the training loss falls ({loss[0]:.3g} to {train[-1]:.3g}); a validation set is "
            "needed to see overfitting",
            train_loss=float(train[-1]),
        )
    val_raw = _series(history, "val_loss", epoch.size)
    val = smooth(val_raw, width)
    best = int(np.argmin(val))
    # the scatter of second differences over the later half of the run, where a turn would
    # be judged: a smooth trend (falling or rising) barely moves them, independent noise of
    # deviation s gives them deviation s * sqrt(6), and the first, steep epochs are left out
    later = val_raw[val_raw.size // 2 :] if val_raw.size >= 10 else val_raw
    second = np.diff(later, 2) if later.size >= 3 else np.zeros(1)
    mad = 1.4826 * float(np.median(np.abs(second - np.median(second)))) / np.sqrt(6)
    noise = max(mad, NOISE_FLOOR * float(val[best]))
    rise = float(val[-1] - val[best])
    risen = val[best + 1 :] > val[best] + 2 * noise
    trailing = len(risen) - (np.flatnonzero(~risen)[-1] + 1 if (~risen).any() else 0)
    rising = trailing >= PATIENCE
    gaps = (val - train) / np.maximum(train, 1e-12)
    gap = float(gaps[-1])
    third = max(1, epoch.size // 3)
    growing = gap > float(np.max(gaps[-2 * third : -third] if epoch.size >= 3 else gaps[:1]))
    numbers = dict(
        gap=gap,
        best_epoch=float(epoch[best]),
        train_loss=float(train[-1]),
        val_loss=float(val[-1]),
        rise=rise,
        noise=noise,
    )
    words = gap_words(float(train[-1]), float(val[-1]), min(width // 2 + 1, epoch.size))
    if rising:
        return Reading(
            "overfitting",
            f"validation loss has risen for {trailing} epochs in a row, {rise:.3g} above its "
            f"lowest (epoch {epoch[best]:g}, noise {noise:.2g}); {words}: stop at epoch "
            f"{epoch[best]:g}, regularize or add data",
            **numbers,
        )
    if gap >= LARGE_GAP and growing:
        return Reading(
            "overfitting",
            f"{words}, and the gap keeps growing: regularize, add data or stop earlier",
            **numbers,
        )
    if high and abs(gap) <= CLOSE:
        return Reading(
            "underfitting",
            f"both losses stay high and close ({words}; the training loss started at "
            f"{loss[0]:.3g}): a bigger model or longer training",
            **numbers,
        )
    if high:
        return Reading(
            "underfitting",
            f"the training loss stays high ({loss[0]:.3g} at first; {words}): a bigger "
            "model or longer training",
            **numbers,
        )
    return Reading(
        "good fit",
        f"training and validation loss fall together ({words}); the validation loss has not "
        "turned upwards"
        if gap < LARGE_GAP
        else f"{words}, but the gap is not growing and the validation loss has not turned "
        "upwards: a good fit so far; watch the gap if you train longer",
        **numbers,
    )
