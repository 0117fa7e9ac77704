"""scikit-learn's bundled data sets, split and scaled for the examples, and synthetic sound
(`tones`) made here from a seed: nothing is downloaded.

Each loader returns `{"train": {...}, "validation": {...}}`, every split a dict of
input name -> array, the shape a model file's `data()` returns. Features are scaled with
the training split's statistics only, so the validation split stays unseen.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import check_flag, check_seed, fraction, positive_int, real_number
from .errors import ArgumentError
from .ir import user_site
from .limits import check_bytes

Splits = dict[str, dict[str, np.ndarray]]


def _check_split(validation: object, seed: object, what: str, y: np.ndarray) -> None:
    """Refuse a held-out share outside (0, 1), a seed that is not a non-negative int, and a
    share that leaves a split without a row of each class (a stratified split needs one),
    in the words of the caller's line."""
    where = f"{user_site()}: {what}"
    share = fraction(validation, f"{where}: validation")
    check_seed(seed, where)
    rows = len(y)
    least = len(np.unique(y)) if np.issubdtype(np.asarray(y).dtype, np.integer) else 1
    held = math.ceil(share * rows)  # scikit-learn rounds the held-out count up
    if not least <= held <= rows - least:
        raise ArgumentError(
            f"{where}: validation={validation!r} holds out {held} of {rows} rows; each split "
            f"needs at least {least} (one per class), so use a share from "
            f"{least / rows:.3g} to {(rows - least) / rows:.3g}"
        )


def split(
    x: np.ndarray,
    y: np.ndarray,
    validation: float = 0.25,
    seed: int = 0,
    names: tuple[str, str] = ("x", "y"),
    standardize: bool = True,
    what: str = "split",
) -> Splits:
    """A seeded, stratified-if-integer train/validation split of (x, y) as model-file data."""
    from sklearn.model_selection import train_test_split

    _check_split(validation, seed, what, y)

    stratify = y if np.issubdtype(np.asarray(y).dtype, np.integer) else None
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation, random_state=seed, stratify=stratify
    )
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0  # constant pixels in digits would divide by zero
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    xn, yn = names
    return {"train": {xn: x_train, yn: y_train}, "validation": {xn: x_val, yn: y_val}}


def digits(validation: float = 0.25, seed: int = 0, images: bool = False) -> Splits:
    """8x8 handwritten digits: x (n, 64) scaled to [0, 1], y int64 class ids 0-9; with
    `images`, x as (n, 1, 8, 8) images (NCHW, one channel), the same split."""
    check_flag(images, f"{user_site()}: digits: images")
    from sklearn.datasets import load_digits

    data = load_digits()
    # pixel / 16 keeps the lecture's picture of inputs in [0, 1] (no per-pixel standardizing)
    target = data.target.astype(np.int64)
    out = split(data.data / 16.0, target, validation, seed, standardize=False, what="digits")
    if images:
        for part in out.values():
            part["x"] = part["x"].reshape(-1, 1, 8, 8)
    return out


def iris(validation: float = 0.25, seed: int = 0) -> Splits:
    """Iris flowers: x (n, 4) standardized, y int64 class ids 0-2."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return split(data.data, data.target.astype(np.int64), validation, seed, what="iris")


def breast_cancer(validation: float = 0.25, seed: int = 0) -> Splits:
    """Breast-cancer diagnosis: x (n, 30) standardized, y float 0/1 targets shaped (n, 1)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    out = split(data.data, data.target.astype(np.int64), validation, seed, what="breast_cancer")
    for part in out.values():
        part["y"] = part["y"].astype(np.float64)[:, None]
    return out


def diabetes(validation: float = 0.25, seed: int = 0) -> Splits:
    """Diabetes progression: x (n, 10) standardized, y (n, 1) standardized targets."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    out = split(data.data, data.target, validation, seed, what="diabetes")
    mean, std = out["train"]["y"].mean(), out["train"]["y"].std()
    for part in out.values():
        part["y"] = ((part["y"] - mean) / std)[:, None]
    return out


def moons(n: int = 400, noise: float = 0.2, validation: float = 0.25, seed: int = 0) -> Splits:
    """Two interleaving half-moons: x (n, 2) standardized, y (n, 1) float 0/1 targets."""
    where = f"{user_site()}: moons"
    positive_int(n, f"{where}: n")
    _noise(noise, where)
    check_seed(seed, where)
    check_bytes((n, 2), "float64", f"{where}: n={n}")
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    out = split(x, y.astype(np.int64), validation, seed, what="moons")
    for part in out.values():
        part["y"] = part["y"].astype(np.float64)[:, None]
    return out


# Four octave-spaced bands of tone frequencies, in cycles per sample (Hz at an 8 kHz sample
# rate: 250-350, 500-700, 1000-1400, 2000-2800): a band's top is 0.7 of the next one's bottom.
TONE_BANDS = ((0.03125, 0.04375), (0.0625, 0.0875), (0.125, 0.175), (0.25, 0.35))


def tones(
    n: int = 1200,
    length: int = 128,
    noise: float = 0.75,
    validation: float = 0.25,
    seed: int = 0,
) -> Splits:
    """Synthetic sound: x (n, 1, length) float64 signals, y int64 class ids 0-3, n // 4 of
    each; nothing is downloaded. Signal i of class k is a sin(2π f t + φ) + noise, with f
    uniform in band k of `TONE_BANDS` (cycles per sample), a uniform in [0.5, 1], φ uniform
    in [0, 2π) and white Gaussian noise of standard deviation `noise`, all drawn from
    `seed`; the split is `split`'s seeded stratified one, not standardized."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 8 or n % 4:
        raise ArgumentError(
            f"{user_site()}: tones: n must be a multiple of 4 and at least 8 (a quarter per "
            f"band, some of each held out), got {n!r}"
        )
    where = f"{user_site()}: tones"
    positive_int(length, f"{where}: length")
    _noise(noise, where)
    fraction(validation, f"{where}: validation")  # before the signals are made
    check_seed(seed, where)
    check_bytes((n, 1, length), "float64", f"{where}: n={n}, length={length}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(TONE_BANDS), dtype=np.int64), n // len(TONE_BANDS))
    low, high = np.array(TONE_BANDS).T
    frequency = rng.uniform(low[y], high[y])
    amplitude = rng.uniform(0.5, 1.0, n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    t = np.arange(length)
    wave = amplitude[:, None] * np.sin(2 * np.pi * frequency[:, None] * t + phase[:, None])
    x = (wave + noise * rng.standard_normal((n, length)))[:, None, :]
    return split(x, y, validation, seed, standardize=False, what="tones")


def _noise(noise: object, where: str) -> float:
    """A noise level: a finite number >= 0."""
    level = real_number(noise, f"{where}: noise")
    if level < 0:
        raise ArgumentError(f"{where}: noise must be 0 or more, got {noise!r}")
    return level
