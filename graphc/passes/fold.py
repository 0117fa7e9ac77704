"""Constant folding: evaluate, once, every node whose inputs are all known before a run.

A node folds when each input is a const, or is read only for a shape that is fully static
(an `OpDef.shape_only` input, such as `broadcast_like`'s reference). The op's own kernel
computes the value, so folding agrees with evaluation bit for bit. Never folded: ops whose
`OpDef.foldable` is False (`select_mode`, `update_state`, `dropout_mask`: their meaning
depends on training vs inference), and results
bigger than both their const inputs and `MAX_FOLD_BYTES`: folding a broadcast would store a
big array in the graph for what a scalar says (zeros_like of a 784x256 weight is 1.6 MB),
and the simplifier removes such broadcasts anyway.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ..errors import EvaluationError
from ..ir import Node, as_list, rebuild
from ..ops.leaves import const
from ..ops.registry import get, run_node

MAX_FOLD_BYTES = 256


def _argument(node: Node, position: int, x: Node) -> np.ndarray | None:
    """The array a kernel gets for input `x`, or None when it is not known before a run."""
    if x.op == "const":
        return x.attrs["value"]
    if position in get(node.op).shape_only and None not in x.shape:
        return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)  # shape only, no memory
    return None


def folded_value(node: Node) -> np.ndarray | None:
    """The value of `node` if it can be folded, else None."""
    if node.is_leaf or not get(node.op).foldable or None in node.shape:
        return None
    args = [_argument(node, k, x) for k, x in enumerate(node.inputs)]
    if any(a is None for a in args):
        return None
    budget = max(
        MAX_FOLD_BYTES, sum(x.attrs["value"].nbytes for x in node.inputs if x.op == "const")
    )
    if np.dtype(node.dtype).itemsize * math.prod(node.shape) > budget:
        return None
    try:
        with np.errstate(all="ignore"):  # as in evaluation: inf and nan fold without warnings
            value = run_node(node, args)
    except EvaluationError:
        return None  # leave the error to evaluation, where it names the user's line
    return np.array(value, dtype=node.dtype)  # own the memory: broadcasts are views


def fold_constants(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Replace foldable nodes by consts; return the new outputs and {"folded": n}."""
    folded = 0

    def visit(old: Node, new: Node) -> Node:
        nonlocal folded
        value = folded_value(new)
        if value is None:
            return new
        folded += 1
        return const(value)

    return rebuild(as_list(outputs), visit), Counter(folded=folded)
