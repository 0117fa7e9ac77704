"""The numbers shown on a rendering: node values and gradients, gathered from what the user
gave (arrays by name or node, gradient nodes of any differentiation mode) or computed here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import graphc as gc
from graphc import REGISTRY, GraphError, MissingValueError, Node
from graphc.diff.reverse import fit_to
from graphc.ops.registry import MULTILINEAR

FLOATS = ("float64", "float32")


def _split(given: Mapping, what: str) -> tuple[dict[int, Any], dict[str, Any]]:
    """Split a mapping keyed by nodes and/or names into the two lookups."""
    by_node: dict[int, Any] = {}
    by_name: dict[str, Any] = {}
    for key, value in given.items():
        if isinstance(key, Node):
            by_node[key.id] = value
        elif isinstance(key, str):
            by_name[key] = value
        else:
            raise GraphError(
                f"{what} must be keyed by graph nodes or names, got the key "
                f"{key!r} ({type(key).__name__})"
            )
    return by_node, by_name


def leaf_values(order: list[Node], values: Mapping | None) -> dict[str, Any] | None:
    """The input/param/state values by name if `values` covers every input and param; None
    if it gives none of them (only arrays to show); an error if it gives some."""
    if not values:
        return None
    by_node, by_name = _split(values, "values")
    found = dict(by_name)
    for node in order:
        if node.op in ("input", "param", "state") and node.id in by_node:
            found[node.name] = by_node[node.id]
    needed = [n.name for n in order if n.op in ("input", "param")]
    missing = [name for name in needed if name not in found]
    if missing and len(missing) < len(needed):
        raise MissingValueError(
            f"values gives some inputs and params but not {', '.join(missing)}: give them all "
            "to evaluate the graph, or give only the arrays to show (by node or node name)"
        )
    return None if missing else found


def node_values(
    order: list[Node], values: Mapping | None, training: bool = False
) -> dict[int, np.ndarray]:
    """Arrays for the nodes of `order`: all of them, evaluated here, when `values` covers the
    graph's inputs and params; otherwise those `values` names (by node, or by node name)."""
    if not values:
        return {}
    leaves = leaf_values(order, values)
    if leaves is not None:
        return dict(zip((n.id for n in order), gc.evaluate(order, leaves, training=training)))
    by_node, by_name = _split(values, "values")
    result = {}
    for node in order:
        if node.id in by_node:
            result[node.id] = np.asarray(by_node[node.id])
        elif node.name in by_name:
            result[node.id] = np.asarray(by_name[node.name])
    return result


def reverse_gradients(
    order: list[Node], outputs: list[Node], leaves: dict | None, training: bool = False
) -> tuple[dict[int, np.ndarray], dict]:
    """Reverse-mode gradients of the one scalar output: the total at every float node, and
    the part flowing back along each edge, by (input id, user id), from the ops' vjp rules."""
    if len(outputs) != 1 or outputs[0].shape != ():
        raise GraphError(
            "grads=True needs one scalar output (the loss) to differentiate; "
            f"got outputs of shapes {[o.shape for o in outputs]}"
        )
    if leaves is None:
        raise GraphError(
            "grads=True evaluates the gradients, so `values` must hold every "
            "input and param of the graph by name"
        )
    wrt = [n for n in order if n.dtype in FLOATS]
    totals = dict(zip((n.id for n in wrt), gc.grad(outputs[0], wrt)))
    parts: dict[tuple[int, int], Node] = {}
    for node in order:
        opdef = REGISTRY[node.op]
        if node.id not in totals or opdef.leaf or opdef.nondiff or opdef.vjp == MULTILINEAR:
            continue
        for child, rule in zip(node.inputs, opdef.vjp):
            if rule is not None and child.dtype in FLOATS:
                part, key = fit_to(rule(totals[node.id], node), child), (child.id, node.id)
                parts[key] = parts[key] + part if key in parts else part  # x * x: both inputs
    arrays = gc.evaluate([*totals.values(), *parts.values()], leaves, training=training)
    return dict(zip(totals, arrays)), dict(zip(parts, arrays[len(totals) :]))


def node_gradients(
    order: list[Node],
    outputs: list[Node],
    grads: Any,
    values: Mapping | None,
    training: bool = False,
) -> tuple[dict[int, np.ndarray], dict]:
    """Gradient arrays by node id, and by edge when known (see `reverse_gradients`).

    `grads` is True (reverse mode of the single scalar output with respect to every float
    node, evaluated with `values`), or a mapping from nodes or names to arrays or to gradient
    nodes (from any mode; those are evaluated with `values`).
    """
    if grads is None or grads is False:
        return {}, {}
    leaves = leaf_values(order, values)
    if grads is True:
        return reverse_gradients(order, outputs, leaves, training)
    if not isinstance(grads, Mapping):
        raise GraphError(
            "grads must be True or a dict from nodes (or names) to gradient arrays "
            f"or gradient nodes, got {type(grads).__name__}"
        )
    by_node, by_name = _split(grads, "grads")
    chosen = {}
    for node in order:
        if node.id in by_node:
            chosen[node.id] = by_node[node.id]
        elif node.name in by_name and (node.is_leaf or node.op != "const"):
            chosen[node.id] = by_name[node.name]
    symbolic = {k: v for k, v in chosen.items() if isinstance(v, Node)}
    if symbolic:
        if leaves is None:
            raise GraphError(
                "grads holds gradient nodes, so `values` must hold every input and "
                "param by name to evaluate them"
            )
        arrays = gc.evaluate(list(symbolic.values()), leaves, training=training)
        chosen.update(zip(symbolic, arrays))
    return {k: np.asarray(v) for k, v in chosen.items()}, {}


def _carries(node: Node, position: int) -> bool:
    """Whether a gradient flows from `node` back into its input at `position`."""
    opdef = REGISTRY[node.op]
    if opdef.leaf or opdef.nondiff or node.dtype not in FLOATS:
        return False
    if node.inputs[position].dtype not in FLOATS or position in opdef.shape_only:
        return False  # integers, and inputs read only for their shape, get no gradient
    return opdef.vjp == MULTILINEAR or opdef.vjp[position] is not None


def gradient_flow(order: list[Node], outputs: list[Node]) -> set[int]:
    """Ids of the nodes a gradient of the outputs really reaches: on a differentiable path
    from a float input or param to an output. Integer labels, one_hot, comparisons, shape
    facts (axis_size), constants and state get no gradient, so they show no ∂."""
    reach = {n.id for n in order if n.op in ("input", "param") and n.dtype in FLOATS}
    for node in order:
        if any(i.id in reach and _carries(node, k) for k, i in enumerate(node.inputs)):
            reach.add(node.id)
    back = {o.id for o in outputs}
    for node in reversed(order):
        if node.id in back:
            back.update(i.id for k, i in enumerate(node.inputs) if _carries(node, k))
    return reach & back


def magnitude(array: np.ndarray) -> float:
    """The mean absolute value of a gradient (what the edge colour shows)."""
    a = np.asarray(array, dtype=float)
    return float(np.mean(np.abs(a))) if a.size else 0.0
