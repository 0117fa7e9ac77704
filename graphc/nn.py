"""Layers written as one-liners: `gc.dense` and `gc.conv` make a layer's params under its own
scope, so a deep network is a loop and renders as one box per layer."""

from __future__ import annotations

import re

from .errors import GraphError
from .ir import Node, leaves, scope, user_site
from .ops.conv import conv1d, conv2d
from .ops.leaves import param
from .ops.registry import FLOAT_DTYPES, REGISTRY, apply, lift


def activations() -> list[str]:
    """The ops a layer can end with (`OpDef.activation`), by name."""
    return [name for name, op in REGISTRY.items() if op.activation]


def _default_name(x: Node, kind: str = "dense") -> str:
    """dense1, dense2, ... (conv1, ...): one more than the layers of that kind below `x`."""
    pattern = re.compile(rf"^{kind}(\d+)$")
    below = {p.scope for p in leaves(x, "param") if p.scope and pattern.match(p.scope)}
    return f"{kind}{len(below) + 1}"


def _check_activation(layer: str, activation) -> None:
    if activation is not None and activation not in activations():
        raise GraphError(
            f"{user_site()}: gc.{layer}: unknown activation {activation!r}; choose one of "
            + ", ".join(repr(a) for a in [None, *activations()])
        )


def _activated(z: Node, activation: str | None, name: str, shape: tuple, dtype: str) -> Node:
    """activation(z) named `name` (z named NAME.z); an activation with params of its own
    (PReLU's slope) gets them of `shape` (one per unit, or per channel), NAME.<param>."""
    if activation is None:
        return named(z, name)
    z = named(z, f"{name}.z")
    more = REGISTRY[activation].activation  # the per-unit params of its other inputs
    made = (
        [] if more is True else [param(f"{name}.{p}", shape, init=v, dtype=dtype) for p, v in more]
    )
    return named(apply(activation, z, *made), name)


def dense(
    x, units: int, activation: str | None = None, name: str | None = None, init="he_normal"
) -> Node:
    """A fully connected layer, activation(x @ W + b), with params NAME.W, NAME.b (and
    NAME.alpha, one PReLU slope per unit starting at 0.25) created under scope NAME."""
    x = lift(x)
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise GraphError(f"{user_site()}: gc.dense: units must be a positive int, got {units!r}")
    _check_activation("dense", activation)
    if x.ndim < 1 or x.shape[-1] is None:
        raise GraphError(
            f"{user_site()}: gc.dense needs an input with a known last (feature) size, "
            f"got shape {x.shape}"
        )
    name = name if name is not None else _default_name(x, "dense")
    dtype = x.dtype if x.dtype in FLOAT_DTYPES else "float64"
    with scope(name):
        W = param(f"{name}.W", (x.shape[-1], units), init=init, dtype=dtype)
        b = param(f"{name}.b", (units,), dtype=dtype)
        return _activated(x @ W + b, activation, name, (units,), dtype)


def conv(
    x,
    channels: int,
    kernel,
    *,
    stride=1,
    padding="same",
    activation: str | None = None,
    name: str | None = None,
    init="he_normal",
) -> Node:
    """A convolution layer, activation(conv(x, W) + b), on images (N, C, H, W) or signals
    (N, C, L), with params NAME.W (channels, C, *kernel) and NAME.b (and NAME.alpha, one
    PReLU slope per channel) created under scope NAME (conv1, conv2, ... by default)."""
    x = lift(x)
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise GraphError(
            f"{user_site()}: gc.conv: channels must be a positive int, got {channels!r}"
        )
    _check_activation("conv", activation)
    if x.ndim not in (3, 4) or x.shape[1] is None:
        raise GraphError(
            f"{user_site()}: gc.conv takes images (N, C, H, W) or signals (N, C, L) with a "
            f"known channel count, got shape {x.shape}"
        )
    d = x.ndim - 2
    kernel = (kernel,) * d if isinstance(kernel, int) else tuple(kernel)
    if len(kernel) != d:
        raise GraphError(
            f"{user_site()}: gc.conv: a {len(kernel)}-d kernel {kernel} for an input of shape "
            f"{x.shape}"
            + (
                ": an image without its channel axis? reshape it to (N, 1, H, W)"
                if len(kernel) == 2 and x.ndim == 3
                else ""
            )
        )
    name = name if name is not None else _default_name(x, "conv")
    dtype = x.dtype if x.dtype in FLOAT_DTYPES else "float64"
    build = conv2d if d == 2 else conv1d
    with scope(name):
        W = param(f"{name}.W", (channels, x.shape[1], *kernel), init=init, dtype=dtype)
        b = param(f"{name}.b", (channels,), dtype=dtype)
        z = build(x, W, b, stride=stride, padding=padding)
        return _activated(z, activation, name, (channels,) + (1,) * d, dtype)


def named(node: Node, name: str) -> Node:
    """A copy of `node` carrying a display name (used by renderings and generated code)."""
    if node.is_leaf:
        raise GraphError(f"{node.site}: leaves are named when they are created")
    return apply(node.op, *node.inputs, _name=str(name), _scope=node.scope, **dict(node.attrs))
