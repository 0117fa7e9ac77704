"""Running a graph with NumPy, and the initial values of its params and state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import MissingValueError, ShapeError
from .feeds import check_feed
from .ir import Node, as_list, leaves, topological_order
from .ops.leaves import initial_value
from .ops.registry import run_node
from .passes.specialization import specialize


def params(outputs: Node | Iterable[Node]) -> list[Node]:
    """The trainable param leaves of a graph, in a deterministic order."""
    return leaves(outputs, "param")


def inputs(outputs: Node | Iterable[Node]) -> list[Node]:
    """The input leaves of a graph, in a deterministic order."""
    return leaves(outputs, "input")


def init_params(outputs: Node | Iterable[Node], seed: int = 0) -> dict[str, np.ndarray]:
    """Initial arrays of every param, by name (seeded per name)."""
    return {p.name: initial_value(p, seed) for p in params(outputs)}


def init_state(outputs: Node | Iterable[Node]) -> dict[str, np.ndarray]:
    """Initial arrays of every state leaf (batch norm's running statistics), by name."""
    return {s.name: initial_value(s) for s in leaves(outputs, "state")}


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
    given = values[node.name]
    try:
        raw = given if isinstance(given, np.ndarray) else np.asarray(given)
        if raw.dtype.kind == "c":
            raise TypeError("complex numbers are not supported")
        if raw.dtype.kind == "f" and node.dtype.startswith("int"):
            whole = np.isfinite(raw) & (np.floor(raw) == raw)
            if not np.all(whole):
                raise TypeError(f"{raw[~whole].flat[0]!r} is not a whole number")
        if raw.dtype.kind in "OUSV":
            raise TypeError(f"it holds {raw.dtype} values")
        array = raw if raw.dtype == node.dtype else raw.astype(node.dtype)
    except (TypeError, ValueError) as error:
        raise ShapeError(
            f"the value for {node.op} {node.name!r} is not a {node.dtype} array: {error}"
        ) from None
    if not _shapes_match(node.shape, array.shape):
        raise ShapeError(
            f"the value for {node.op} {node.name!r} has shape {array.shape}, "
            f"expected {node.shape} (None is the batch dimension), "
            f"declared at {node.site}"
        )
    return array


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
    if not isinstance(values, Mapping):
        raise MissingValueError(
            f"gc.evaluate: values must be a dict of arrays by input and param name, got "
            f"{type(values).__name__} (gc.init_params(outputs) makes the params)"
        )
    graph = specialize(as_list(outputs), bool(training))
    order = topological_order(graph)
    leaves(graph)  # refuse duplicate names before running anything
    env: dict[int, np.ndarray] = {}
    for node in order:
        if node.is_leaf:
            env[node.id] = leaf_value(node, values)
    check_feed(order, env, training)
    with np.errstate(all="ignore"):  # inf and nan propagate as in NumPy; no warning spam
        for node in order:
            if node.is_leaf:
                continue
            env[node.id] = run_node(node, [env[i.id] for i in node.inputs])
            if node.op == "update_state" and updates is not None:
                updates[node.attrs["target"]] = env[node.inputs[1].id]
    results = [env[o.id] for o in graph]
    return results[0] if single else results
