"""gc.grid_search: train the exported code once per combination of learning rate, batch
size and dropout rate, and compare them on a validation split."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .codegen import build_module
from .errors import GraphError
from .ir import Node

_COLUMNS = (
    "lr",
    "batch_size",
    "dropout",
    "loss",
    "val_loss",
    "val_accuracy",
    "best_epoch",
    "seconds",
)


@dataclass
class GridResult:
    """One row per combination (final-epoch figures), best first by the chosen metric."""

    rows: list[dict]
    metric: str
    histories: list[dict] = field(default_factory=list, repr=False)

    @property
    def best(self) -> dict:
        """The row of the best combination."""
        return self.rows[0]

    def to_dict(self) -> dict:
        """JSON-ready: the metric, the rows and each row's per-epoch history."""
        return {"metric": self.metric, "rows": self.rows, "histories": self.histories}

    def __str__(self) -> str:
        shown = [c for c in _COLUMNS if any(row.get(c) is not None for row in self.rows)]
        table = [[_cell(row.get(c)) for c in shown] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(shown)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(shown, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in table]
        lines.append(
            f"best by {self.metric}: lr={self.best['lr']}, "
            f"batch_size={self.best['batch_size']}, dropout={self.best['dropout']}"
        )
        return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _as_list(name: str, values, kind, what: str) -> list:
    values = (
        list(values) if isinstance(values, Iterable) and not isinstance(values, str) else [values]
    )
    if not values:
        raise GraphError(f"grid_search: {name} needs at least one value")
    for v in values:
        if v is not None and (not isinstance(v, kind) or isinstance(v, bool)):
            raise GraphError(f"grid_search: {name} values must be {what}, got {v!r}")
    return values


def grid_search(
    loss: Node,
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray] | None = None,
    *,
    lr: Iterable[float] = (0.1, 0.01),
    batch_size: Iterable[int] = (32,),
    dropout: Iterable[float | None] = (None,),
    optimizer: str = "sgd",
    epochs: int = 10,
    val_fraction: float = 0.2,
    seed: int = 0,
    predictions: Node | None = None,
    **hyper,
) -> GridResult:
    """Train the model once per (lr, batch_size, dropout) and rank the runs on validation.

    `train` (and `validation`) map input names to arrays; without a validation set,
    `val_fraction` of `train` is held out (seeded). `dropout` None keeps the model's own
    rates. Each run starts from the same initial params (seed) and shuffling.
    """
    lrs = [float(v) for v in _as_list("lr", lr, (int, float), "numbers")]
    if not all(np.isfinite(v) and v > 0 for v in lrs):
        raise GraphError(f"grid_search: learning rates must be positive and finite, got {lrs}")
    sizes = _as_list("batch_size", batch_size, int, "positive ints")
    rates = _as_list("dropout", dropout, (int, float), "rates in [0, 1) or None")
    if any(s is None or s < 1 for s in sizes) or any(
        r is not None and not 0.0 <= r < 1.0 for r in rates
    ):
        raise GraphError(
            f"grid_search: batch sizes must be positive ints and dropout rates "
            f"in [0, 1) or None, got {sizes} and {rates}"
        )
    ns = build_module(loss, optimizer, predictions=predictions, epochs=epochs, **hyper).compile(
        "<graphc.grid_search>"
    )
    if any(r is not None for r in rates) and not ns["DROPOUT_RATES"]:
        raise GraphError(
            "grid_search: the model has no dropout (build it with gc.dropout) "
            "so there is no dropout rate to search"
        )
    _check_data("train", train, ns["INPUTS"])
    if validation is not None:
        _check_data("validation", validation, ns["INPUTS"])
    if validation is None:
        if not 0.0 < val_fraction < 1.0:
            raise GraphError(f"grid_search: val_fraction must be in (0, 1), got {val_fraction}")
        train, validation = ns["split_off"](dict(train), val_fraction, seed)
    rows, histories = [], []
    for lr_value, size, rate in itertools.product(lrs, sizes, rates):
        params, state = ns["init_params"](seed), ns["init_state"](seed)
        started = time.perf_counter()
        history = ns["fit"](
            params,
            state,
            train,
            epochs,
            size,
            lr_value,
            validation,
            seed,
            verbose=False,
            dropout=rate,
        )
        score = history.get("val_accuracy") or [-v for v in history["val_loss"]]
        rows.append(
            {
                "lr": lr_value,
                "batch_size": size,
                "dropout": rate,
                "loss": history["loss"][-1],
                "val_loss": history["val_loss"][-1],
                "val_accuracy": (history.get("val_accuracy") or [None])[-1],
                "best_epoch": int(np.argmax(score)) + 1,
                "seconds": time.perf_counter() - started,
            }
        )
        histories.append(history)
    metric = "val_accuracy" if rows[0]["val_accuracy"] is not None else "val_loss"
    order = sorted(range(len(rows)), key=lambda i: _rank(rows[i], metric))
    return GridResult([rows[i] for i in order], metric, [histories[i] for i in order])


def _check_data(what: str, data: Mapping, inputs: dict) -> None:
    """Refuse a data set the exported code would fail on: a missing input, an array whose
    shape after the batch axis differs from the input's, arrays of different lengths."""
    lengths = set()
    for name, (shape, _) in inputs.items():
        if name not in data:
            raise GraphError(
                f"grid_search: the {what} data has no array {name!r}; the model's "
                f"inputs are {', '.join(inputs)}"
            )
        got = np.shape(data[name])
        if len(got) != len(shape) or any(d not in (-1, g) for d, g in zip(shape, got)):
            want = tuple(None if d == -1 else d for d in shape)
            raise GraphError(
                f"grid_search: {what} array {name!r} has shape {got}, the input "
                f"needs {want} (None is the batch)"
            )
        lengths.add(got[0] if got else 1)
    if len(lengths) > 1:
        raise GraphError(f"grid_search: the {what} arrays differ in length: {sorted(lengths)}")


def _rank(row: dict, metric: str) -> tuple:
    value = row[metric]
    bad = value is None or not np.isfinite(value)
    return (bad, -value if metric == "val_accuracy" and not bad else (value if not bad else 0))
