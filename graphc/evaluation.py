"""Running a graph with NumPy, and the initial values of its params and state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .checks import as_array, check_seed, check_training
from .errors import MissingValueError, ShapeError
from .feeds import check_feed
from .ir import Node, as_list, leaves, topological_order
from .limits import check_arrays
from .ops.leaves import initial_value
from .ops.registry import get, run_node
from .passes.specialization import specialize


def params(outputs: Node | Iterable[Node]) -> list[Node]:
    """The trainable param leaves of a graph, in a deterministic order."""
    return leaves(outputs, "param")


def inputs(outputs: Node | Iterable[Node]) -> list[Node]:
    """The input leaves of a graph, in a deterministic order."""
    return leaves(outputs, "input")


def init_params(outputs: Node | Iterable[Node], seed: int = 0) -> dict[str, np.ndarray]:
    """Initial arrays of every param, by name (seeded per name)."""
    seed = check_seed(seed, "gc.init_params")
    found = params(outputs)
    check_arrays(found, None, "gc.init_params")
    return {p.name: initial_value(p, seed) for p in found}


def init_state(outputs: Node | Iterable[Node]) -> dict[str, np.ndarray]:
    """Initial arrays of every state leaf (batch norm's running statistics), by name."""
    found = leaves(outputs, "state")
    check_arrays(found, None, "gc.init_state")
    return {s.name: initial_value(s) for s in found}


def _shapes_match(static: tuple, actual: tuple) -> bool:
    return len(static) == len(actual) and all(s is None or s == a for s, a in zip(static, actual))


def leaf_value(node: Node, values: Mapping[str, Any]) -> np.ndarray:
    """The array for a leaf: a const's value, or the caller's value checked against the leaf."""
    if node.op == "const":
        return node.attrs["value"]
    if node.name not in values:
        if node.op == "state":
            return initial_value(node)
        hint = " (gc.init_params(outputs) makes them)" if node.op == "param" else ""
        raise MissingValueError(
            f"no value given for {node.op} {node.name!r} of shape "
            f"{node.shape}, created at {node.site}{hint}"
        )
    array = as_array(values[node.name], node.dtype, f"the value for {node.op} {node.name!r}")
    if not _shapes_match(node.shape, array.shape):
        raise ShapeError(
            f"the value for {node.op} {node.name!r} has shape {array.shape}, "
            f"expected {node.shape} (None is the batch dimension), "
            f"declared at {node.site}"
        )
    return array


def feed(order: list[Node], values: Mapping[str, Any], training: bool, what: str) -> dict:
    """The leaf arrays of a graph's `order` by node id, checked before any op runs: each
    against its leaf (`leaf_value`), together (`feeds.check_feed`), and every node's array
    against the size limit at their batch size."""
    env = {node.id: leaf_value(node, values) for node in order if node.is_leaf}
    check_arrays(order, check_feed(order, env, training, what), what)
    return env


def evaluate(
    outputs: Node | Iterable[Node],
    values: Mapping[str, Any],
    training: bool = False,
    updates: dict | None = None,
):
    """Run the graph with NumPy; return one array per output (or one array for one node).

    `values` maps input, param and (optionally) state names to arrays. `training=True`
    uses batch statistics in batch norm and an active dropout mask; then, if `updates` is
    a dict, it receives the new running statistics by state name.
    """
    single = isinstance(outputs, Node)
    training = check_training(training, "gc.evaluate")
    if not isinstance(values, Mapping):
        raise MissingValueError(
            f"gc.evaluate: values must be a dict of arrays by input and param name, got "
            f"{type(values).__name__} (gc.init_params(outputs) makes the params)"
        )
    graph = specialize(as_list(outputs), training)
    order = topological_order(graph)
    leaves(graph)  # refuse duplicate names before running anything
    env = feed(order, values, training, "gc.evaluate")
    with np.errstate(all="ignore"):  # inf and nan propagate as in NumPy; no warning spam
        for node in order:
            if node.is_leaf:
                continue
            env[node.id] = run_node(node, [env[i.id] for i in node.inputs])
            writes = get(node.op).writes_state
            if writes is not None and updates is not None:
                target, new = writes(node)
                updates[target] = env[new.id]
    results = [env[o.id] for o in graph]
    return results[0] if single else results
