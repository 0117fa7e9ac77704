"""`grad`: the gradient of a scalar, by the mode the caller names."""

from __future__ import annotations

from collections.abc import Sequence

from ..checks import positive_int
from ..errors import GraphError
from ..ir import Node, Nodes, as_list
from .forward import forward_gradient_graph
from .reverse import gradient_graph
from .symbolic import symbolic_gradient_graph

# what each mode accepts (reverse needs no concrete shapes, but takes them for uniformity)
OPTIONS = {
    "reverse": {"values", "shapes"},
    "forward": {"values", "shapes", "max_nodes"},
    "symbolic": {"values", "shapes", "training", "constants", "max_ops"},
}


def grad(y: Node, wrt: Node | Sequence[Node], mode: str = "reverse", **options):
    """The gradient of scalar `y` with respect to `wrt`, as new graph nodes.

    `mode` is "reverse" (backprop), "forward" (one JVP per input element) or "symbolic"
    (SymPy). One node in `wrt` gives one node back; a list gives a list. Forward and
    symbolic mode need concrete shapes: batch dimensions come from `values=` or `shapes=`
    (dicts keyed by leaf name); symbolic mode also takes `training=`, `constants=` (leaf
    names to bake in from `values`) and `max_ops=` (its size cap).
    """
    targets = as_list(wrt)
    extra = sorted(set(options) - OPTIONS.get(mode, set(options)))
    if extra:
        raise GraphError(f"{mode} mode takes the options {sorted(OPTIONS[mode])}, not {extra}")
    for cap in ("max_ops", "max_nodes"):
        if options.get(cap) is not None:
            options[cap] = positive_int(options[cap], f"gc.grad: {cap}")
    if mode == "reverse":
        result = gradient_graph(y, targets)
    elif mode == "forward":
        result = forward_gradient_graph(y, targets, **options)
    elif mode == "symbolic":
        result = symbolic_gradient_graph(y, targets, **options)
    else:
        raise GraphError(
            f"unknown differentiation mode {mode!r}; use 'reverse', 'forward' or 'symbolic'"
        )
    return result[0] if isinstance(wrt, Node) else Nodes(result)  # a list that draws
