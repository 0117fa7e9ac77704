"""The two gradients of a convolution as ops of their own (conv.py's vjp rules make them):
`conv_vjp_x(g, W)`, the transposed convolution (the upstream times the weights, overlap-added
into the input's shape), and `conv_vjp_w(x, g)`, the windows of x times the upstream, one
product per group that contracts the batch and the positions together.

Each decomposes into windows, matrix products and overlap-adds (`vjp_x_steps`,
`vjp_w_steps`, which the kernel and the lowering both run, so they agree to the last bit):
the NumPy modules run those lines and the readable module shows them. A target whose
runtime computes an op in one call keeps it whole (the JAX module: the transposes of
lax.conv_general_dilated). Both ops are bilinear, and their vjps are the convolution and
each other, so the Hessians of a convolutional network stay graphs of these three ops.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..ir import Node
from .conv import (
    WINDOW_KEYS,
    ArraySteps,
    NodeSteps,
    batch_first,
    check_images,
    conv_kernel,
    conv_samples,
    positions,
    window_attrs,
)
from .registry import MULTILINEAR, OpDef, apply, register, result_dtype, size


def vjp_x_steps(steps, g, W, kernel, stride, padding, dilation, groups, size_):
    """The upstream g (N, C_out, *positions) times the weights, overlap-added into
    (N, C_in, *size_): ungrouped one product (N, positions, C_out) @ (C_out, C_in·kernel)."""
    d = len(kernel)
    c_out, depth, found = W.shape[0], size(W.shape[1:]), tuple(g.shape[2:])
    up = steps.transpose(g, (0, *range(2, d + 2), 1))  # (N, *positions, C_out)
    if groups == 1:
        up = steps.reshape(up, (-1, size(found), c_out))
        patches = steps.matmul(up, steps.reshape(W, (c_out, depth)))  # (N, positions, depth)
    else:
        up = steps.reshape(up, (-1, size(found), groups, c_out // groups))
        weights = steps.reshape(W, (groups, c_out // groups, depth))
        patches = steps.matmul(steps.transpose(up, (0, 2, 1, 3)), weights)  # (N, G, P, depth)
        patches = steps.transpose(patches, (0, 2, 1, 3))
    patches = steps.reshape(patches, (-1, *found, W.shape[1] * groups, *kernel))
    return steps.overlap_add(
        patches, size=size_, kernel=kernel, stride=stride, padding=padding, dilation=dilation
    )


def vjp_w_steps(steps, x, g, kernel, stride, padding, dilation, groups):
    """Σ over the windows of x, each times the upstream at its position: per group, one
    product (C_in/G·kernel, N·positions) @ (N·positions, C_out/G)."""
    d, c_out, c_in = len(kernel), g.shape[1], x.shape[1] // groups
    patches = steps.windows(
        x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, fill=0.0
    )
    rows = steps.reshape(patches, (-1, groups, c_in * size(kernel)))
    rows = steps.transpose(rows, (1, 2, 0))  # (G, depth, N·positions)
    up = steps.transpose(g, (0, *range(2, d + 2), 1))  # (N, *positions, C_out)
    up = steps.transpose(steps.reshape(up, (-1, groups, c_out // groups)), (1, 0, 2))
    per_group = steps.matmul(rows, up)  # (G, depth, C_out / G)
    return steps.reshape(steps.transpose(per_group, (0, 2, 1)), (c_out, c_in, *kernel))


def _check(op: str, x_shape: tuple, g: Node, weights: tuple, attrs: dict) -> None:
    """g must be the upstream of a convolution of an input shaped like x_shape (batch
    aside) by weights shaped `weights`: its channels and positions."""
    d, groups = len(attrs["kernel"]), attrs["groups"]
    check_images(g, d, op)
    found = positions(x_shape[2:], *(attrs[k] for k in WINDOW_KEYS))
    if (
        len(weights) != d + 2
        or tuple(weights[2:]) != tuple(attrs["kernel"])
        or weights[0] % groups
        or x_shape[1] != weights[1] * groups
        or g.shape[1:] != (weights[0], *found)
    ):
        raise ShapeError(
            f"{op}: an upstream {g.shape} does not fit a convolution of {x_shape} by weights "
            f"{weights} (groups={groups}, upstream (N, {weights[0]}, *{found}))"
        )


def _vjp_x_infer(attrs, g: Node, W: Node):
    d = len(attrs["kernel"])
    if W.ndim != d + 2 or None in W.shape:
        raise ShapeError(f"conv_vjp_x takes weights (C_out, C_in / groups, *kernel), got {W.shape}")
    x_shape = (g.shape[0], W.shape[1] * attrs["groups"], *attrs["size"])
    _check("conv_vjp_x", x_shape, g, W.shape, attrs)
    return x_shape, result_dtype(g, W)


def _vjp_w_infer(attrs, x: Node, g: Node):
    d, groups = len(attrs["kernel"]), attrs["groups"]
    check_images(x, d, "conv_vjp_w")
    if None in x.shape[1:] or x.shape[1] % groups or g.ndim != d + 2 or None in g.shape[1:]:
        raise ShapeError(f"conv_vjp_w: input {x.shape} and upstream {g.shape} with groups={groups}")
    weights = (g.shape[1], x.shape[1] // groups, *attrs["kernel"])
    _check("conv_vjp_w", x.shape, g, weights, attrs)
    return weights, result_dtype(x, g)


def _vjp_x_kernel(g, W, kernel, stride, padding, dilation, groups, size):
    return vjp_x_steps(ArraySteps, g, W, kernel, stride, padding, dilation, groups, size)


def _vjp_w_kernel(x, g, kernel, stride, padding, dilation, groups):
    return vjp_w_steps(ArraySteps, x, g, kernel, stride, padding, dilation, groups)


def _normalize(attrs, a: Node, b: Node) -> dict:
    d = len(tuple(attrs["kernel"]))
    found = window_attrs(attrs, d) | {"groups": int(attrs["groups"])}
    return found | ({"size": tuple(int(s) for s in attrs["size"])} if "size" in attrs else {})


def _conv_attrs(n: Node) -> dict:
    return {k: n.attrs[k] for k in (*WINDOW_KEYS, "groups")}


def conv(x: Node, W: Node, attrs: dict) -> Node:
    """The convolution of x by W with the window attrs of a conv_vjp node."""
    d = len(attrs["kernel"])
    keys = ("stride", "padding", "dilation", "groups")
    return apply(f"conv{d}d", x, W, **{k: attrs[k] for k in keys})


def _x_samples(rng):
    out = []
    for (x, W), attrs in conv_samples(rng):
        y = conv_kernel(x, W, **attrs)
        out.append(((rng.normal(size=y.shape), W), attrs | {"size": x.shape[2:]}))
    return out


def _w_samples(rng):
    out = []
    for (x, W), attrs in conv_samples(rng):
        out.append(((x, rng.normal(size=conv_kernel(x, W, **attrs).shape)), attrs))
    return out


def _flops(n: Node) -> int:
    g = n.inputs[0] if n.op == "conv_vjp_x" else n.inputs[1]
    weights = n.inputs[1].shape if n.op == "conv_vjp_x" else n.shape
    return 2 * size(g.shape) * size(weights[1:])


register(
    OpDef(
        "conv_vjp_x",
        2,
        _vjp_x_infer,
        kernel=_vjp_x_kernel,
        decompose=lambda n: vjp_x_steps(
            NodeSteps, *n.inputs, **_conv_attrs(n), size_=n.attrs["size"]
        ),
        normalize=_normalize,
        sympy=_vjp_x_kernel,
        board=lambda g, W: (f"conv(upstream, {W})", f"conv_vjp_w(upstream, {g})"),
        vjp=(
            lambda h, n: conv(h, n.inputs[1], n.attrs),
            lambda h, n: apply("conv_vjp_w", h, n.inputs[0], **_conv_attrs(n)),
        ),
        jvp=MULTILINEAR,
        label=lambda n: f"conv_transpose {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_x_samples,
        runtime_shape=batch_first,
        flops=_flops,
        complex_step=True,
        doc="a convolution's vjp for its input: the transposed convolution of the upstream",
    )
)

register(
    OpDef(
        "conv_vjp_w",
        2,
        _vjp_w_infer,
        kernel=_vjp_w_kernel,
        decompose=lambda n: vjp_w_steps(NodeSteps, *n.inputs, **_conv_attrs(n)),
        normalize=_normalize,
        sympy=_vjp_w_kernel,
        board=lambda x, g: (f"conv_transpose({g}, upstream)", f"conv({x}, upstream)"),
        vjp=(
            lambda h, n: apply(
                "conv_vjp_x", n.inputs[1], h, size=n.inputs[0].shape[2:], **_conv_attrs(n)
            ),
            lambda h, n: conv(n.inputs[0], h, n.attrs),
        ),
        jvp=MULTILINEAR,
        label=lambda n: f"conv weight gradient {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_w_samples,
        runtime_shape=lambda n, x, g: list(n.shape),
        flops=_flops,
        complex_step=True,
        doc="a convolution's vjp for its weights: the windows of x times the upstream, summed "
        "over the batch and the positions",
    )
)
