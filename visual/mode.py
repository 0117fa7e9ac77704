"""Training or inference: which nodes a mode runs, so a picture draws only that branch (batch
statistics and the dropout mask in training; running statistics and the identity in
inference), and the mode named in the title."""

from __future__ import annotations

from graphc import GraphError, Node
from graphc.ops.registry import REGISTRY


def mode_inputs(node: Node, training: bool | None) -> tuple[Node, ...]:
    """The inputs of `node` that run in this mode (all of them when the mode is None): the
    one input a mode-dependent op stands for in that mode (its `OpDef.mode`, as `specialize`
    resolves it: select_mode's branch, update_state's value in inference), else every input."""
    resolve = REGISTRY[node.op].mode
    if training is None or resolve is None:
        return node.inputs
    picked = resolve(node.inputs, training)
    return (picked,) if any(picked is i for i in node.inputs) else node.inputs


def live_order(order: list[Node], outputs: list[Node], training: bool | None) -> list[Node]:
    """The nodes of `order` (a topological order) that computing `outputs` runs in this mode."""
    live = {o.id for o in outputs}
    for node in reversed(order):
        if node.id in live:
            live.update(i.id for i in mode_inputs(node, training))
    return [n for n in order if n.id in live]


def has_modes(order: list[Node]) -> bool:
    """Whether the graph behaves differently in training and inference."""
    return any(REGISTRY[n.op].mode is not None for n in order)


def mode_title(title: str | None, order: list[Node], training: bool | None) -> str | None:
    """The title with the mode the numbers were computed in, for graphs that have modes."""
    if training is None or not has_modes(order):
        return title
    mode = (
        "training mode (batch statistics, dropout on)"
        if training
        else "inference mode (running statistics, dropout off)"
    )
    return f"{title} · {mode}" if title else mode


def resolve_mode(training: bool | None, values) -> bool | None:
    """The mode a picture shows: as asked, else inference when it shows numbers (as
    `gc.evaluate` does), else both branches (the graph as built)."""
    if training is None:
        return False if values else None
    if not isinstance(training, bool):
        raise GraphError(f"training must be True or False, got {training!r}")
    return training
