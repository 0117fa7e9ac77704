"""The first stage of lowering: the graph specialized for its mode (training or inference:
batch statistics and dropout masks, or running statistics and the identity), then passed
through the ordinary passes (gc.optimize: folding, simplification, fusion, CSE, DCE)."""

from __future__ import annotations

from collections.abc import Sequence

from ..ir import Node
from ..passes import optimize
from ..passes.specialization import specialize


def prepare(outputs: Sequence[Node], training: bool) -> list[Node]:
    """The graph as it will be lowered: specialized for the mode, then optimized."""
    return optimize(specialize(list(outputs), training)).outputs
