"""Layers written as one-liners: `gc.dense` makes a fully connected layer's params under its
own scope, so a deep network is a loop and renders as one box per layer."""

from __future__ import annotations

import re

from .errors import GraphError
from .ir import Node, leaves, scope, user_site
from .ops.leaves import param
from .ops.registry import FLOAT_DTYPES, REGISTRY, apply, lift

_AUTO_NAME = re.compile(r"^dense(\d+)$")


def activations() -> list[str]:
    """The ops gc.dense can end a layer with (`OpDef.activation`), by name."""
    return [name for name, op in REGISTRY.items() if op.activation]


def _default_name(x: Node) -> str:
    """dense1, dense2, ...: one more than the dense layers already below `x`."""
    below = {p.scope for p in leaves(x, "param") if p.scope and _AUTO_NAME.match(p.scope)}
    return f"dense{len(below) + 1}"


def dense(
    x, units: int, activation: str | None = None, name: str | None = None, init="he_normal"
) -> Node:
    """A fully connected layer, activation(x @ W + b), with params NAME.W, NAME.b (and
    NAME.alpha, one PReLU slope per unit starting at 0.25) created under scope NAME."""
    x = lift(x)
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise GraphError(f"{user_site()}: gc.dense: units must be a positive int, got {units!r}")
    if activation is not None and activation not in activations():
        raise GraphError(
            f"{user_site()}: gc.dense: unknown activation {activation!r}; choose one of "
            + ", ".join(repr(a) for a in [None, *activations()])
        )
    if x.ndim < 1 or x.shape[-1] is None:
        raise GraphError(
            f"{user_site()}: gc.dense needs an input with a known last (feature) size, "
            f"got shape {x.shape}"
        )
    name = name if name is not None else _default_name(x)
    dtype = x.dtype if x.dtype in FLOAT_DTYPES else "float64"
    with scope(name):
        W = param(f"{name}.W", (x.shape[-1], units), init=init, dtype=dtype)
        b = param(f"{name}.b", (units,), dtype=dtype)
        z = x @ W + b
        if activation is None:
            return named(z, name)
        z = named(z, f"{name}.z")
        more = REGISTRY[activation].activation  # the per-unit params of its other inputs
        made = (
            []
            if more is True
            else [param(f"{name}.{p}", (units,), init=v, dtype=dtype) for p, v in more]
        )
        return named(apply(activation, z, *made), name)


def named(node: Node, name: str) -> Node:
    """A copy of `node` carrying a display name (used by renderings and generated code)."""
    if node.is_leaf:
        raise GraphError(f"{node.site}: leaves are named when they are created")
    return apply(node.op, *node.inputs, _name=str(name), _scope=node.scope, **dict(node.attrs))
