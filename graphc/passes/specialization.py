"""Mode specialization: resolve the ops whose meaning depends on training vs inference.

One graph serves both modes (`select_mode`, `update_state`); each such op says, through
`OpDef.mode`, which node stands for it in a given mode. Evaluation, lowering, the cost
table and the derivative checks run this first, so no kernel ever sees a mode.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import Node, rebuild
from ..ops.registry import get


def specialize(outputs: Node | Iterable[Node], training: bool) -> list[Node]:
    """The graph of `outputs` for one mode: every mode-dependent op resolved."""

    def visit(old: Node, new: Node) -> Node:
        resolve = get(old.op).mode
        if resolve is None:
            return new
        picked = resolve(new.inputs, training)
        return new if picked is None else picked

    return rebuild(outputs, visit)


def switch_branch(node: Node, training: bool) -> Node | None:
    """The input a mode switch (batch norm's and dropout's train | eval) stands for in one
    mode, or None when `node` is no switch: a switch's `OpDef.mode` picks one of its inputs
    in either mode."""
    resolve = get(node.op).mode
    if resolve is None or resolve(node.inputs, not training) is None:
        return None
    return resolve(node.inputs, training)
