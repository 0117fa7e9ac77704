"""scikit-learn's bundled data sets, split and scaled for the examples (nothing is downloaded).

Each loader returns `{"train": {...}, "validation": {...}}`, every split a dict of
input name -> array, the shape a model file's `data()` returns. Features are scaled with
the training split's statistics only, so the validation split stays unseen.
"""

from __future__ import annotations

import numpy as np

Splits = dict[str, dict[str, np.ndarray]]


def split(
    x: np.ndarray,
    y: np.ndarray,
    validation: float = 0.25,
    seed: int = 0,
    names: tuple[str, str] = ("x", "y"),
    standardize: bool = True,
) -> Splits:
    """A seeded, stratified-if-integer train/validation split of (x, y) as model-file data."""
    from sklearn.model_selection import train_test_split

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
    from sklearn.datasets import load_digits

    data = load_digits()
    # pixel / 16 keeps the lecture's picture of inputs in [0, 1] (no per-pixel standardizing)
    out = split(data.data / 16.0, data.target.astype(np.int64), validation, seed, standardize=False)
    if images:
        for part in out.values():
            part["x"] = part["x"].reshape(-1, 1, 8, 8)
    return out


def iris(validation: float = 0.25, seed: int = 0) -> Splits:
    """Iris flowers: x (n, 4) standardized, y int64 class ids 0-2."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return split(data.data, data.target.astype(np.int64), validation, seed)


def breast_cancer(validation: float = 0.25, seed: int = 0) -> Splits:
    """Breast-cancer diagnosis: x (n, 30) standardized, y float 0/1 targets shaped (n, 1)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    out = split(data.data, data.target.astype(np.int64), validation, seed)
    for part in out.values():
        part["y"] = part["y"].astype(np.float64)[:, None]
    return out


def diabetes(validation: float = 0.25, seed: int = 0) -> Splits:
    """Diabetes progression: x (n, 10) standardized, y (n, 1) standardized targets."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    out = split(data.data, data.target, validation, seed)
    mean, std = out["train"]["y"].mean(), out["train"]["y"].std()
    for part in out.values():
        part["y"] = ((part["y"] - mean) / std)[:, None]
    return out


def moons(n: int = 400, noise: float = 0.2, validation: float = 0.25, seed: int = 0) -> Splits:
    """Two interleaving half-moons: x (n, 2) standardized, y (n, 1) float 0/1 targets."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    out = split(x, y.astype(np.int64), validation, seed)
    for part in out.values():
        part["y"] = part["y"].astype(np.float64)[:, None]
    return out
