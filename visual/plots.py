"""Training and differentiation plots with matplotlib: loss and accuracy curves with the
lecture's reading of them, the numeric-gradient error against eps, expression swell and the
cost of forward mode. Each returns a `matplotlib.figure.Figure` (no pyplot, so no display is
needed and no global figure state leaks); save it with `visual.save(fig, "x.png")`."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from graphc import GraphError

from .diagnosis import diagnose

TRAIN, VAL = "#2563eb", "#ea580c"
READING_COLORS = {
    "overfitting": "#b91c1c",
    "underfitting": "#b45309",
    "good fit": "#15803d",
    "no validation": "#4b5563",
}


def series(data: Mapping, key: str, what: str, length: int | None = None) -> np.ndarray:
    """`data[key]` as a float array, with a clear error when missing or of the wrong length."""
    if key not in data:
        raise GraphError(f"{what} needs the key {key!r}; got keys {sorted(data)}")
    values = np.asarray(data[key], dtype=float)
    if values.ndim != 1 or (length is not None and len(values) != length):
        raise GraphError(
            f"{what}: {key!r} must be a list of {length or 'some'} numbers, got "
            f"shape {values.shape}"
        )
    return values


def plot_history(history: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss (and accuracy, if present) per epoch for training and validation, annotated with
    the reading: a large train/validation gap is overfitting, no gap and a high loss is
    underfitting. `history` is {"epoch", "loss", "val_loss"?, "accuracy"?, "val_accuracy"?}."""
    epoch = series(history, "epoch", "plot_history")
    n = len(epoch)
    has_acc = "accuracy" in history
    fig = Figure(figsize=(11 if has_acc else 6.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    loss = series(history, "loss", "plot_history", n)
    ax = axes[0]
    ax.plot(epoch, loss, color=TRAIN, marker="o", markersize=3, label="training loss")
    if "val_loss" in history:
        val = series(history, "val_loss", "plot_history", n)
        ax.plot(epoch, val, color=VAL, marker="o", markersize=3, label="validation loss")
        ax.fill_between(
            epoch, loss, val, where=val > loss, color=VAL, alpha=0.12, label="generalization gap"
        )
    reading = diagnose(history)
    if reading.kind == "overfitting":  # mark where the (smoothed) validation loss was lowest
        best = int(np.flatnonzero(epoch == reading.best_epoch)[0])
        ax.axvline(epoch[best], color="#9ca3af", linestyle=":", linewidth=1)
        ax.annotate(
            f"lowest validation loss\n(epoch {epoch[best]:g})",
            (epoch[best], val[best]),
            xytext=(0, 28),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            arrowprops={"arrowstyle": "->", "color": "#6b7280"},
        )
    ax.set(xlabel="epoch", ylabel="loss", title="loss")
    shown = np.concatenate([loss, val]) if "val_loss" in history else loss
    if np.all(np.isfinite(shown)) and shown.min() >= 0:
        # from zero, so a loss that stays high looks high; headroom for the reading's box
        ax.set_ylim(0, 1.45 * shown.max() or 1.0)
    ax.legend(loc="center right", fontsize=8)
    # loss curves fall from the upper left, so the upper right corner is free for the reading
    ax.text(
        0.98,
        0.97,
        textwrap.fill(f"{reading.kind}: {reading.text}", 44),
        transform=ax.transAxes,
        fontsize=8,
        va="top",
        ha="right",
        multialignment="left",
        color=READING_COLORS[reading.kind],
        bbox={
            "boxstyle": "round",
            "facecolor": "white",
            "alpha": 0.9,
            "edgecolor": READING_COLORS[reading.kind],
        },
    )
    if has_acc:
        ax = axes[1]
        ax.plot(
            epoch,
            series(history, "accuracy", "plot_history", n),
            color=TRAIN,
            marker="o",
            markersize=3,
            label="training accuracy",
        )
        if "val_accuracy" in history:
            ax.plot(
                epoch,
                series(history, "val_accuracy", "plot_history", n),
                color=VAL,
                marker="o",
                markersize=3,
                label="validation accuracy",
            )
        ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
        ax.legend(loc="lower right", fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_eps_sweep(sweep: Mapping, title: str | None = None) -> Figure:
    """Log-log error of numeric gradients against the step eps, one line per method, the best
    eps of each marked: rounding error dominates at small eps, truncation error at large."""
    eps = series(sweep, "eps", "plot_eps_sweep")
    errors = sweep.get("error")
    if not isinstance(errors, Mapping) or not errors:
        raise GraphError("plot_eps_sweep needs 'error': {method: [errors per eps]}")
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    handles, labels = [], []
    for method in errors:
        err = series(errors, method, f"plot_eps_sweep error[{method!r}]", len(eps))
        (line,) = ax.loglog(eps, err, marker="o", markersize=3, label=method)
        handles.append(line)
        labels.append(method)
        positive = np.where(err > 0, err, np.inf)
        best = int(np.argmin(positive))
        if np.isfinite(positive[best]):
            ax.plot(
                eps[best],
                err[best],
                marker="*",
                markersize=13,
                color=line.get_color(),
                markeredgecolor="white",
                linestyle="none",
            )
            labels[-1] = f"{method}: best eps {eps[best]:.0e} (error {err[best]:.0e})"
    dtype = sweep.get("dtype", "float64")
    # the two error sources go under the axis: the V-shaped curves fill every corner
    sources = "← rounding error ∝ 1/eps" + " " * 24 + "truncation error ∝ eps^order →"
    ax.set(
        xlabel=f"step eps\n{sources}",
        ylabel="max |numeric − reverse-mode gradient|",
        title=title or f"numeric gradient error against eps ({dtype})",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(handles, labels, fontsize=8, loc="upper center")
    return fig


def plot_swell(swell: Mapping, title: str | None = None) -> Figure:
    """Size of symbolic derivatives against depth, without and with common-subexpression
    elimination (log y axis), with the growth factor per level."""
    depth = series(swell, "depth", "plot_swell")
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for key, label, color in (
        ("ops", "expression (tree) ops", "#b91c1c"),
        ("ops_cse", "after CSE (DAG) ops", "#15803d"),
    ):
        if key not in swell:
            continue
        ops = series(swell, key, "plot_swell", len(depth))
        ax.semilogy(depth, ops, marker="o", markersize=4, color=color, label=label)
        if len(depth) > 1 and np.all(ops > 0):
            factor = np.exp(np.polyfit(depth, np.log(ops), 1)[0])
            ax.annotate(
                f"×{factor:.2f} per level",
                (depth[-1], ops[-1]),
                fontsize=8,
                xytext=(-6, 6),
                textcoords="offset points",
                ha="right",
                color=color,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="depth (nested layers)",
        ylabel="ops in the derivative",
        title=title or "expression swell of symbolic differentiation",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def plot_forward_cost(cost: Mapping, title: str | None = None) -> Figure:
    """The cost of a full gradient against the number of params: forward mode needs one pass
    per param, reverse mode one backward pass (evaluations, and seconds on a log scale)."""
    n = series(cost, "n_params", "plot_forward_cost")
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    for ax, kind, ylabel in (
        (left, "evals", "graph evaluations per gradient"),
        (right, "seconds", "seconds per gradient"),
    ):
        for mode, color in (("forward", "#b91c1c"), ("reverse", "#2563eb")):
            key = f"{mode}_{kind}"
            if key in cost:
                ax.plot(
                    n,
                    series(cost, key, "plot_forward_cost", len(n)),
                    marker="o",
                    markersize=3,
                    color=color,
                    label=f"{mode} mode",
                )
        ax.set(xlabel="number of params", ylabel=ylabel, xscale="log", yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    left.set_title("forward mode: one pass per param; reverse: one backward pass", fontsize=9)
    fig.suptitle(title or "the cost of a gradient: forward against reverse mode")
    return fig
