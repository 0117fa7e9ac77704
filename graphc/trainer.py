"""Training a loaded model through its exported NumPy code, with a progress bar.

The exported training module (`gc.export`) is the one trainer: `graphc train` compiles it in
memory, `graphc demo` writes it to a file and imports that file, and both drive it here one
epoch at a time so the progress bar can follow.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import GraphError
from .progress import ProgressBar

SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class Trained:
    """What training left: the params and state, the per-epoch history, test figures."""

    params: dict[str, np.ndarray]
    state: dict[str, Any]
    history: dict[str, list] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)

    def final(self, key: str) -> float | None:
        """The last epoch's value of `key` ('loss', 'val_accuracy', ...), if recorded."""
        values = self.history.get(key)
        return float(values[-1]) if values else None


def compile_trainer(
    loss, optimizer: str = "sgd", predictions=None, name: str = "model", **hyper
) -> dict:
    """The exported training module for `loss`, compiled in memory (its namespace)."""
    from .lower import build_module

    module = build_module(loss, optimizer, predictions=predictions, name=name, **hyper)
    return module.compile(f"<graphc export of {name}>")


def import_trainer(path: str | os.PathLike) -> dict:
    """An exported training file (written by `gc.export`), imported; its namespace."""
    spec = importlib.util.spec_from_file_location(f"graphc_trained_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def check_run(epochs: int, batch_size: int, lr: float | None = None) -> None:
    """Refuse epochs or a batch size that is not a positive int, or a learning rate <= 0."""
    for what, value in (("epochs", epochs), ("batch size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise GraphError(f"the {what} must be a positive int, got {value!r}")
    if lr is not None and not lr > 0:
        raise GraphError(f"the learning rate must be positive, got {lr!r}")


def train(
    trainer: Mapping[str, Any],
    data: Mapping[str, Mapping[str, np.ndarray]],
    epochs: int,
    batch_size: int = 32,
    lr: float | None = None,
    seed: int = 0,
    progress: ProgressBar | None = None,
) -> Trained:
    """Train on data["train"] for `epochs` (validating on data["validation"] when present),
    showing a progress bar; evaluate on data["test"] at the end if it exists."""
    check_run(epochs, batch_size, lr)
    if "train" not in data:
        raise GraphError("there is no training data (data() returned no 'train' split)")
    params, state = trainer["init_params"](seed), trainer["init_state"](seed)
    result = Trained(params, state)
    try:
        for epoch in range(1, epochs + 1):
            # one epoch per call; a new shuffling seed each epoch, the rest lives in `state`;
            # NumPy's overflow warnings are silenced: a non-finite loss is reported below
            with np.errstate(all="ignore"):
                step = trainer["fit"](
                    params,
                    state,
                    data["train"],
                    epochs=1,
                    batch_size=batch_size,
                    lr=lr,
                    validation=data.get("validation"),
                    seed=seed + epoch,
                    verbose=False,
                )
            for key, values in step.items():
                result.history.setdefault(key, []).extend(values if key != "epoch" else [epoch])
            if progress is not None:
                progress.update(epoch, **{k: result.final(k) for k in SHOWN if k in result.history})
            if not np.isfinite(result.history["loss"][-1]):
                raise GraphError(
                    f"training diverged at epoch {epoch} (the loss is "
                    f"{result.history['loss'][-1]}); try a smaller learning rate"
                )
    finally:
        if progress is not None:
            progress.close()
    if "test" in data:
        loss, accuracy = trainer["evaluate"](params, state, data["test"])
        result.test = {"loss": float(loss)} | (
            {} if accuracy is None else {"accuracy": float(accuracy)}
        )
    return result
