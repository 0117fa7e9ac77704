"""Pictures of sequence models: the gradient's size at each time step of an unrolled
network (backpropagation through time, and how it vanishes), and attention weights as a
heat map. Each returns a `matplotlib.figure.Figure`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import graphc as gc
from graphc import GraphError

COLORS = ("#b91c1c", "#2563eb", "#15803d", "#7c3aed")


def gradient_norms_through_time(loss, hidden_states: Sequence, values: Mapping) -> np.ndarray:
    """‖∂loss/∂h_t‖ (over the whole batch) for each hidden state h_1 .. h_T, in order."""
    hidden_states = list(hidden_states)
    if not hidden_states or not all(isinstance(h, gc.Node) for h in hidden_states):
        raise GraphError("gradient_through_time needs the list of hidden-state nodes h_1..h_T")
    grads = gc.evaluate(gc.grad(loss, hidden_states), values)
    return np.array([float(np.linalg.norm(g)) for g in grads])


def gradient_through_time(
    loss, hidden_states: Sequence | None = None, values: Mapping | None = None, title=None
) -> Figure:
    """‖∂L/∂h_t‖ against the step t on a log scale, for one unrolled network (loss, its
    hidden states, values) or several: a mapping label -> (loss, hidden states, values).
    The legend gives how much each gradient shrinks from the last step to the first:
    backpropagation through time multiplies one Jacobian ∂h_t/∂h_{t-1} per step."""
    runs = loss if isinstance(loss, Mapping) else {"": (loss, hidden_states, values)}
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for (label, (run_loss, hidden, run_values)), color in zip(runs.items(), COLORS * 4):
        norms = gradient_norms_through_time(run_loss, hidden, run_values)
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else np.inf
        shrink = f"‖∂L/∂h₁‖ / ‖∂L/∂h_T‖ = {ratio:.1e}"
        steps = np.arange(1, len(norms) + 1)
        ax.semilogy(
            steps,
            norms,
            marker="o",
            markersize=3,
            color=color,
            label=f"{label}: {shrink}" if label else shrink,
        )
    ax.set(
        xlabel="time step t",
        ylabel="‖∂L/∂h_t‖",
        title=title or "the gradient through time (backpropagation through time)",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def attention_map(
    weights, queries: Sequence | None = None, keys: Sequence | None = None, title=None
) -> Figure:
    """Attention weights (queries × keys, each row summing to 1) as a heat map, with the
    query and key tokens as tick labels."""
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2:
        raise GraphError(
            f"attention_map takes one (queries, keys) matrix of weights, got shape "
            f"{weights.shape}; pick one example and head first"
        )
    rows, cols = weights.shape
    for what, labels, count in (("queries", queries, rows), ("keys", keys, cols)):
        if labels is not None and len(labels) != count:
            raise GraphError(f"attention_map: {len(labels)} {what} labels for {count} {what}")
    fig = Figure(figsize=(1.2 + 0.45 * cols, 1.0 + 0.45 * rows), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(1e-12, weights.max()))
    ax.set_xticks(range(cols), [str(k) for k in keys] if keys is not None else range(cols))
    ax.set_yticks(range(rows), [str(q) for q in queries] if queries is not None else range(rows))
    ax.set(xlabel="key", ylabel="query", title=title or "attention weights")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
