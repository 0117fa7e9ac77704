"""Monte Carlo dropout: the lecture's test-time ensemble, estimated by sampling.

Training with dropout trains an ensemble of thinned networks that share weights. At test time
the ensemble's average can be estimated by running the network many times with fresh masks and
averaging; for a network that is linear after its dropout layers this converges (error falling
like 1/sqrt(samples)) to the single inference pass with every unit on, which inverted dropout
already scales correctly. The spread of the samples measures how unsure the model is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import GraphError
from .evaluation import leaf_value
from .ir import Node, as_list, substitute, topological_order
from .ops.registry import get, run_node
from .passes.specialization import specialize, switch_branch


def is_dropout(node: Node) -> bool:
    """Whether `node` is a train-or-inference switch whose training branch draws random
    numbers: the one gc.dropout makes (x * mask | x)."""
    train = switch_branch(node, training=True)
    return train is not None and any(get(i.op).random for i in train.inputs)


def mc_graph(outputs: Node | Iterable[Node]) -> list[Node]:
    """`outputs` with dropout in training mode (masks on) and everything else, batch norm
    included, in inference mode (running statistics, no updates)."""
    outputs = as_list(outputs)
    order = topological_order(outputs)
    masked = {n: switch_branch(n, training=True) for n in order if is_dropout(n)}
    return specialize(substitute(outputs, masked), training=False)


def _check_samples(samples: Any) -> int:
    if not isinstance(samples, (int, np.integer)) or isinstance(samples, bool) or samples < 1:
        raise GraphError(f"mc_predict: samples must be a positive int, got {samples!r}")
    return int(samples)


def mc_predict(
    outputs: Node | Iterable[Node],
    values: Mapping[str, Any],
    samples: int = 100,
    seed: int = 0,
):
    """Run `outputs` `samples` times with fresh dropout masks (batch norm in inference mode);
    return (mean, std) over the samples: two arrays for one node, two lists for a list.

    std is the spread of the samples (ddof=0), a measure of the model's uncertainty; the
    mean's own error is std / sqrt(samples).
    """
    single = isinstance(outputs, Node)
    samples = _check_samples(samples)
    graph = mc_graph(outputs)
    order = topological_order(graph)
    rng = np.random.default_rng(seed)
    fixed: dict[int, np.ndarray] = {}  # nodes no mask reaches: evaluated once for all samples
    random: list[Node] = []
    for node in order:
        if get(node.op).random or any(i.id not in fixed for i in node.inputs):
            random.append(node)
        elif node.is_leaf:
            fixed[node.id] = leaf_value(node, values)
        else:
            fixed[node.id] = run_node(node, [fixed[i.id] for i in node.inputs])
    count = 0
    mean = {o.id: 0.0 for o in graph}
    spread = dict(mean)  # Welford's running sum of squared deviations, stable in float32 too
    with np.errstate(all="ignore"):
        for _ in range(samples):
            env = dict(fixed)
            for node in random:
                args = [env[i.id] for i in node.inputs]
                if get(node.op).random:  # a fresh draw: the op's kernel, a new seed
                    fresh = {**node.attrs, "seed": int(rng.integers(2**63))}
                    env[node.id] = np.asarray(get(node.op).kernel(*args, **fresh), node.dtype)
                else:
                    env[node.id] = run_node(node, args)
            count += 1
            for o in graph:
                value = env[o.id].astype(np.float64)
                delta = value - mean[o.id]
                mean[o.id] = mean[o.id] + delta / count
                spread[o.id] = spread[o.id] + delta * (value - mean[o.id])
    means = [mean[o.id].astype(o.dtype) for o in graph]
    stds = [np.sqrt(spread[o.id] / count).astype(o.dtype) for o in graph]
    return (means[0], stds[0]) if single else (means, stds)
