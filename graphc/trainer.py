"""Training a loaded model through its exported NumPy code, with a progress bar.

The exported training module (`gc.export`) is the one trainer: `graphc train` compiles it in
memory, `graphc demo` writes it to a file and imports that file, and both drive it here one
epoch at a time so the progress bar can follow.
"""

from __future__ import annotations

import base64
import contextlib
import html
import importlib.util
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .checks import check_minibatches, check_run
from .codegen import build_module
from .errors import GraphError
from .ir import topological_order
from .limits import check_arrays, check_table, size_table
from .progress import ProgressBar, format_metric

SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")
SIZES = "_graphc_size_table"  # where compile_trainer leaves the graph's largest arrays


class History(dict):
    """Per-epoch metrics by name ('epoch', 'loss', 'accuracy', 'val_loss', ...), each a list.

    A dict, so it converts to JSON and plots as before; it adds a short repr and `final`.
    """

    @property
    def epochs(self) -> int:
        """How many epochs are recorded."""
        return len(self.get("epoch", ()))

    def final(self, key: str) -> float | None:
        """The last epoch's value of `key` ('loss', 'val_accuracy', ...), if recorded."""
        values = self.get(key)
        return float(values[-1]) if values else None

    def summary(self) -> str:
        """The last epoch's metrics on one line: 'loss 0.161  accuracy 98.00%  ...'."""
        return "  ".join(
            format_metric(k, self.final(k)) for k in self if self.get(k) and k != "epoch"
        )

    def __repr__(self) -> str:
        return f"History({self.epochs} epochs; last: {self.summary()})"


@dataclass(repr=False)
class Trained:
    """What training left: the params and state, the per-epoch history, test figures.

    In a notebook it shows as its learning curves (once `visual` is imported, which sets
    `Trained.plot`) and its final metrics; its repr is a few lines.
    """

    params: dict[str, np.ndarray]
    state: dict[str, Any]
    history: History = field(default_factory=History)
    test: dict[str, float] = field(default_factory=dict)
    plot: ClassVar[Callable | None] = None  # history -> matplotlib Figure; set by visual

    def final(self, key: str) -> float | None:
        """The last epoch's value of `key` ('loss', 'val_accuracy', ...), if recorded."""
        return self.history.final(key)

    def _lines(self) -> list[str]:
        sizes = sum(int(np.size(v)) for v in self.params.values())
        lines = [
            f"Trained: {self.history.epochs} epochs, {len(self.params)} params ({sizes:,} numbers)",
            f"  last epoch: {self.history.summary()}",
        ]
        if self.test:
            lines.append("  test: " + "  ".join(format_metric(k, v) for k, v in self.test.items()))
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        rows = "".join(f"<div>{html.escape(line)}</div>" for line in self._lines())
        png = self._repr_png_()
        image = (
            ""
            if png is None
            else (f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="760">')
        )
        return f'<div style="font-family: monospace">{rows}</div>{image}'

    def _repr_png_(self) -> bytes | None:
        if Trained.plot is None or not self.history.epochs:
            return None
        buffer = io.BytesIO()
        Trained.plot(self.history).savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()


def compile_trainer(
    loss, optimizer: str = "sgd", predictions=None, name: str = "model", **hyper
) -> dict:
    """The exported training module for `loss`, compiled in memory (its namespace)."""
    order = topological_order(loss)
    check_arrays(order, None, "the trainer")  # what no batch size fits
    module = build_module(loss, optimizer, predictions=predictions, name=name, **hyper)
    trainer = module.compile(f"<graphc export of {name}>")
    trainer[SIZES] = size_table(order)  # checked at the batch size `train` is given
    return trainer


def import_trainer(path: str | os.PathLike) -> dict:
    """An exported training file (written by `gc.export`), imported; its namespace."""
    spec = importlib.util.spec_from_file_location(f"graphc_trained_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


@contextlib.contextmanager
def _data_errors():
    """The exported code's complaints about the data (ValueError) as GraphErrors."""
    try:
        yield
    except ValueError as error:
        raise GraphError(f"the training data does not fit the model: {error}") from None


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
    rows = len(next(iter(data["train"].values()), ()))  # fit checks this too; here first
    check_minibatches(rows, batch_size, trainer.get("MIN_BATCH"), "the training data")
    check_table(trainer.get(SIZES, []), min(rows, batch_size), "the trainer")
    params, state = trainer["init_params"](seed), trainer["init_state"](seed)
    result = Trained(params, state)
    try:
        for epoch in range(1, epochs + 1):
            # one epoch per call; a new shuffling seed each epoch, the rest lives in `state`;
            # NumPy's overflow warnings are silenced: a non-finite loss is reported below
            with np.errstate(all="ignore"), _data_errors():
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
