"""Pooling and flattening with PyTorch's conventions (torch.nn.functional): max_pool2d and
avg_pool2d on NCHW images (stride defaults to the kernel; padding counts as in torch's
defaults: max pooling pads with -inf, average pooling divides by the whole window,
count_include_pad=True; ceil_mode=False), and flatten.

Max pooling's gradient goes to the first maximum of each window (row-major over the
window), as PyTorch's does where entries tie; each is the windows of the input (conv.py)
reduced over the kernel axes, run by the kernel and the lowering alike (`pool_steps`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Node
from .conv import (
    ArraySteps,
    NodeSteps,
    batch_first,
    canonical,
    check_images,
    overlap_add,
    positions,
    window_attrs,
    windows_of,
)
from .registry import KERNEL, MULTILINEAR, F, OpDef, apply, lift, normalize_axis, register, size
from .windows_kernels import windows as windows_kernel


class _ArrayPool(ArraySteps):
    @staticmethod
    def max(a, axis):
        return np.max(a, axis=axis)

    @staticmethod
    def mean(a, axis, count):
        return np.divide(np.sum(a, axis=axis), float(count))


class _NodePool(NodeSteps):
    @staticmethod
    def max(a, axis):
        return F.max(a, axis=axis)

    @staticmethod
    def mean(a, axis, count):
        return F.div(F.sum(a, axis=axis), float(count))


def pool_steps(steps, how: str, x, kernel, stride, padding):
    """max or mean over each window of x, as (N, C, *positions)."""
    d = len(kernel)
    found = positions(x.shape[2:], kernel, stride, padding, (1,) * d)
    fill = -np.inf if how == "max" else 0.0
    patches = steps.windows(
        x, kernel=kernel, stride=stride, padding=padding, dilation=(1,) * d, fill=fill
    )
    flat = steps.reshape(patches, (-1, *found, x.shape[1], size(kernel)))
    axis = (d + 2,)
    pooled = steps.max(flat, axis) if how == "max" else steps.mean(flat, axis, size(kernel))
    return steps.transpose(pooled, (0, d + 1, *range(1, d + 1)))


def _pool_attrs(op: str):
    def normalize(attrs, x: Node) -> dict:
        check_images(x, 2, op)
        stride = attrs.get("stride")
        stride = attrs["kernel"] if stride is None else stride
        padding = attrs.get("padding", 0)
        if isinstance(padding, str):
            raise ShapeError(f"padding is an int or a pair here, got {padding!r}")
        window = window_attrs(dict(attrs, stride=stride, padding=padding, dilation=1), 2)
        if any(
            lo > k // 2 or hi > k // 2 for (lo, hi), k in zip(window["padding"], window["kernel"])
        ):
            raise ShapeError(
                f"the padding {window['padding']} may be at most half the kernel "
                f"{window['kernel']}, as in PyTorch"
            )
        return {k: window[k] for k in ("kernel", "stride", "padding")}

    return normalize


def _pool_infer(attrs, x: Node):
    found = positions(x.shape[2:], attrs["kernel"], attrs["stride"], attrs["padding"], (1, 1))
    return (x.shape[0], x.shape[1], *found), x.dtype


def _window(n: Node) -> dict:
    return {k: n.attrs[k] for k in ("kernel", "stride", "padding")} | {"dilation": (1, 1)}


def _flat_windows(x: Node, n: Node, fill: float) -> Node:
    """The windows of x as (N, *positions, C, kernel size)."""
    shape = (-1, *n.shape[2:], n.shape[1], size(n.attrs["kernel"]))
    return F.reshape(windows_of(x, _window(n), fill), shape=shape)


def first_max(n: Node) -> Node:
    """1.0 at the first maximum of each window (row-major), 0.0 elsewhere, as
    (N, *positions, C, kernel size): where a max pool's gradient goes."""
    flat = _flat_windows(n.inputs[0], n, -np.inf)
    hit = F.equal(flat, F.max(flat, axis=(flat.ndim - 1,), keepdims=True))
    order = lift(-np.arange(size(n.attrs["kernel"]), dtype=flat.dtype))  # 0, -1, -2, ...
    first = F.max(F.where(hit, order, -np.inf), axis=(flat.ndim - 1,), keepdims=True)
    # 1 and 0 in the windows' dtype: where's two bare floats would make a float32 net's mask float64
    return F.where(F.equal(order, first), lift(1.0, flat), lift(0.0, flat))


def _channels_last(g: Node) -> Node:
    """(N, C, *positions) as (N, *positions, C, 1): one entry per window."""
    d = g.ndim - 2
    return F.expand_dims(F.transpose(g, axes=(0, *range(2, d + 2), 1)), axis=(d + 2,))


def _unflat(p: Node, n: Node) -> Node:
    return F.reshape(p, shape=(-1, *n.shape[2:], n.shape[1], *n.attrs["kernel"]))


def _max_pool_vjp(g: Node, n: Node) -> Node:
    routed = _channels_last(g) * first_max(n)
    return overlap_add(_unflat(routed, n), n.inputs[0], _window(n))


def _max_pool_jvp(t: Node, n: Node) -> Node:
    picked = F.sum(_flat_windows(t, n, 0.0) * first_max(n), axis=(n.ndim,))
    return F.transpose(picked, axes=(0, 3, 1, 2))


def _avg_pool_vjp(g: Node, n: Node) -> Node:
    count = float(size(n.attrs["kernel"]))
    spread = F.broadcast_like(_channels_last(g) / count, _flat_windows(n.inputs[0], n, 0.0))
    return overlap_add(_unflat(spread, n), n.inputs[0], _window(n))


def _max_pool_kernel(x, kernel, stride, padding):
    return pool_steps(_ArrayPool, "max", x, kernel, stride, padding)


def _avg_pool_kernel(x, kernel, stride, padding):
    return pool_steps(_ArrayPool, "mean", x, kernel, stride, padding)


def _max2(a, b):
    """max(a, b) of SymPy values as (a + b + |a - b|) / 2, -inf (padding) never winning."""
    import sympy as sp

    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    return (a + b + sp.Abs(a - b)) / 2


def _max_pool_sympy(x, kernel, stride, padding):
    patches = windows_kernel(x, kernel, stride, padding, (1, 1), -np.inf)
    flat = patches.reshape(patches.shape[:4] + (-1,))
    pairwise = np.frompyfunc(_max2, 2, 1)
    while flat.shape[-1] > 1:  # a balanced tree: each level doubles the expression once
        odd = flat[..., 2 * (flat.shape[-1] // 2) :]
        flat = np.concatenate([pairwise(flat[..., 0:-1:2], flat[..., 1::2]), odd], axis=-1)
    return np.asarray(flat[..., 0], dtype=object).transpose(0, 3, 1, 2)


def _window_gap(x, kernel, stride, padding):
    """How far the top two entries of each window are apart (0 at a tie: a kink)."""
    patches = windows_kernel(x, kernel, stride, padding, (1, 1), -np.inf)
    top2 = np.sort(patches.reshape(patches.shape[:4] + (-1,)), axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def _near_tie(x):
    """0 where an entry ties with its right or lower neighbour, at the first of the two: the
    ties of windows of two neighbours (the samples' windows; a 3x3 window has more pairs)."""
    x = np.asarray(x, dtype=float)
    gap = np.full(x.shape, np.inf)
    np.minimum(gap[..., :, :-1], np.abs(np.diff(x, axis=-1)), out=gap[..., :, :-1])
    np.minimum(gap[..., :-1, :], np.abs(np.diff(x, axis=-2)), out=gap[..., :-1, :])
    return gap


def _samples(op: str, cases):
    def samples(rng):
        out = []
        for shape, attrs in cases:
            x = rng.normal(size=shape)
            out.append(((x,), canonical(op, [x], attrs)))
        return out

    return samples


# windows of two neighbours: the four-way tests draw the entries, and step around a tie in
# a window (see _near_tie); test_conv.py checks 2x2 and 3x3 windows against PyTorch
_max_pool_samples = _samples(
    "max_pool2d",
    [
        ((1, 1, 2, 4), {"kernel": (1, 2)}),  # stride = kernel
        ((1, 1, 3, 2), {"kernel": (2, 1), "stride": 1, "padding": (1, 0)}),
        ((2, 1, 1, 3), {"kernel": (1, 2), "stride": 1}),  # overlapping
    ],
)


register(
    OpDef(
        "max_pool2d",
        1,
        _pool_infer,
        kernel=_max_pool_kernel,
        decompose=lambda n: pool_steps(_NodePool, "max", n.inputs[0], **n.attrs),
        normalize=_pool_attrs("max_pool2d"),
        sympy=_max_pool_sympy,
        board=lambda x: (f"1 where {x} won its window (the first maximum), else 0",),
        vjp=(_max_pool_vjp,),
        jvp=(_max_pool_jvp,),
        kink=_near_tie,
        label=lambda n: f"max pool {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_max_pool_samples,
        runtime_shape=batch_first,
        flops=lambda n: size(n.shape) * size(n.attrs["kernel"]),
        doc="the largest entry of each window, as torch.nn.functional.max_pool2d; the "
        "gradient goes to the first maximum of the window (row-major), as in PyTorch",
    )
)

register(
    OpDef(
        "avg_pool2d",
        1,
        _pool_infer,
        kernel=_avg_pool_kernel,
        decompose=lambda n: pool_steps(_NodePool, "mean", n.inputs[0], **n.attrs),
        normalize=_pool_attrs("avg_pool2d"),
        sympy=_avg_pool_kernel,
        board=lambda x: ("1 / (kernel size) for every entry of the window",),
        vjp=(_avg_pool_vjp,),
        jvp=MULTILINEAR,
        label=lambda n: f"avg pool {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_samples(
            "avg_pool2d",
            [
                ((2, 1, 4, 5), {"kernel": 2}),
                ((1, 2, 5, 4), {"kernel": 3, "stride": 2, "padding": 1}),
            ],
        ),
        runtime_shape=batch_first,
        flops=lambda n: size(n.shape) * size(n.attrs["kernel"]),
        complex_step=True,
        doc="the mean of each window, as torch.nn.functional.avg_pool2d (padding counted)",
    )
)


def _flatten_infer(attrs, x: Node):
    start = attrs["start"]
    if not 0 <= start < x.ndim or None in x.shape[start:]:
        raise ShapeError(f"cannot flatten {x.shape} from axis {start} (known sizes only)")
    return x.shape[:start] + (size(x.shape[start:]),), x.dtype


def _flatten_attrs(attrs, x: Node) -> dict:
    start = attrs.get("start", 1)
    if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
        raise ShapeError(f"start must be an int (an axis), got {start!r}")
    return {"start": normalize_axis(start, x.ndim)[0]}


def _flatten_kernel(x, start):
    return np.reshape(x, x.shape[:start] + (-1,))


register(
    OpDef(
        "flatten",
        1,
        _flatten_infer,
        kernel=_flatten_kernel,
        decompose=lambda n: F.reshape(
            n.inputs[0], shape=tuple(-1 if d is None else d for d in n.shape)
        ),
        normalize=_flatten_attrs,
        sympy=KERNEL,
        board=lambda x: ("upstream reshaped back",),
        vjp=(
            lambda g, n: F.reshape(
                g, shape=tuple(-1 if d is None else d for d in n.inputs[0].shape)
            ),
        ),
        jvp=MULTILINEAR,
        label=lambda n: "flatten",
        samples=lambda rng: [((rng.normal(size=(2, 3, 2, 2)),), {"start": 1})],
        runtime_shape=lambda n, x: [x[0], *n.shape[1:]] if n.attrs["start"] else None,
        view=True,
        flops=0,
        complex_step=True,
    )
)


def max_pool2d(x, kernel, stride=None, padding=0) -> Node:
    """The largest entry of each window, as torch.nn.functional.max_pool2d (stride defaults
    to the kernel; padding counts as -inf); the gradient goes to each window's first maximum."""
    return apply("max_pool2d", x, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(x, kernel, stride=None, padding=0) -> Node:
    """The mean of each window, as torch.nn.functional.avg_pool2d (count_include_pad=True)."""
    return apply("avg_pool2d", x, kernel=kernel, stride=stride, padding=padding)


def flatten(x, start: int = 1) -> Node:
    """x with its axes from `start` on merged into one, as torch.flatten(x, start)."""
    return apply("flatten", x, start=start)
