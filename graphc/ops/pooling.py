"""Pooling and flattening with PyTorch's conventions (torch.nn.functional): max_pool2d and
avg_pool2d on NCHW images (stride defaults to the kernel; padding counts as in torch's
defaults: max pooling pads with -inf, average pooling divides by the whole window,
count_include_pad=True; ceil_mode=False), and flatten.

Max pooling's gradient goes to the first maximum of each window (row-major), as PyTorch's
does where entries tie (and a NaN wins its window, as in PyTorch). Pooling is a runtime
helper per target (windows_kernels.py: one elementwise maximum or sum per kernel offset over
strided views of the input; jax_runtime.py: lax.reduce_window), and so are max pooling's
tangent and cotangent, the ops max_pool2d_jvp and max_pool2d_vjp: each finds the offset of
every window's first maximum and picks the tangent there, or adds the upstream there.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Node
from .conv import (
    batch_first,
    canonical,
    check_images,
    overlap_add,
    positions,
    window_attrs,
    windows_of,
)
from .registry import KERNEL, MULTILINEAR, F, OpDef, apply, normalize_axis, register, size
from .windows_kernels import (
    _channels_last as _image,
)
from .windows_kernels import (
    _cropped,
    _taps,
    window_max,
    window_max_jvp,
    window_max_vjp,
    window_mean,
)
from .windows_kernels import windows as windows_kernel


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


def _call(n: Node) -> tuple[tuple, dict]:
    """The helper's operands: the inputs, and the window as keywords."""
    return tuple(n.inputs), dict(n.attrs)


def _pool_infer(attrs, x: Node):
    found = positions(x.shape[2:], attrs["kernel"], attrs["stride"], attrs["padding"], (1, 1))
    return (x.shape[0], x.shape[1], *found), x.dtype


def _window(n: Node) -> dict:
    return {k: n.attrs[k] for k in ("kernel", "stride", "padding")} | {"dilation": (1, 1)}


def _flat_windows(x: Node, n: Node, fill: float) -> Node:
    """The windows of x as (N, *positions, C, kernel size)."""
    shape = (-1, *n.shape[2:], n.shape[1], size(n.attrs["kernel"]))
    return F.reshape(windows_of(x, _window(n), fill), shape=shape)


def _channels_last(g: Node) -> Node:
    """(N, C, *positions) as (N, *positions, C, 1): one entry per window."""
    d = g.ndim - 2
    return F.expand_dims(F.transpose(g, axes=(0, *range(2, d + 2), 1)), axis=(d + 2,))


def _unflat(p: Node, n: Node) -> Node:
    return F.reshape(p, shape=(-1, *n.shape[2:], n.shape[1], *n.attrs["kernel"]))


def _avg_pool_vjp(g: Node, n: Node) -> Node:
    count = float(size(n.attrs["kernel"]))
    spread = F.broadcast_like(_channels_last(g) / count, _flat_windows(n.inputs[0], n, 0.0))
    return overlap_add(_unflat(spread, n), n.inputs[0], _window(n))


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
        kernel=window_max,
        helper="window_max",
        array_args=_call,
        normalize=_pool_attrs("max_pool2d"),
        sympy=_max_pool_sympy,
        board=lambda x: (
            f"upstream to the winner of each window\n(the first maximum of {x} in it); 0 to the "
            "others",
        ),
        vjp=(lambda g, n: apply("max_pool2d_vjp", n.inputs[0], g, **n.attrs),),
        jvp=(lambda t, n: apply("max_pool2d_jvp", n.inputs[0], t, **n.attrs),),
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
        kernel=window_mean,
        helper="window_mean",
        array_args=_call,
        normalize=_pool_attrs("avg_pool2d"),
        sympy=KERNEL,
        board=lambda x: ("upstream / (kernel size)\nto every entry of its window",),
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


# ---- max pooling's tangent and cotangent: routed by each window's first maximum ----------


def _routed_attrs(op: str):
    pool = _pool_attrs(op)
    return lambda attrs, x, v: pool(attrs, x)


def _first_max_sympy(x, kernel, stride, padding) -> list:
    """Per kernel offset, where it holds its window's first maximum (SymPy conditions)."""
    import sympy as sp

    both = np.frompyfunc(sp.And, 2, 1)
    larger, at_least = np.frompyfunc(sp.Gt, 2, 1), np.frompyfunc(sp.Ge, 2, 1)
    taps = _taps(_image(x, padding, -np.inf), kernel, stride)
    conditions = []
    for k, tap in enumerate(taps):
        holds = np.full(tap.shape, sp.true, dtype=object)
        for j, other in enumerate(taps):
            if j != k:  # larger than the offsets before it, at least as large as those after
                holds = both(holds, (larger if j < k else at_least)(tap, other))
        conditions.append(holds)
    return conditions


def _piecewise(*pairs):
    import sympy as sp

    return sp.Piecewise(*zip(pairs[::2], pairs[1::2]), (0, True))


def _max_pool_jvp_sympy(x, t, kernel, stride, padding):
    conditions = _first_max_sympy(x, kernel, stride, padding)
    values = _taps(_image(t, padding, 0.0), kernel, stride)
    pick = np.frompyfunc(_piecewise, 2 * len(values), 1)
    return np.moveaxis(pick(*[a for pair in zip(values, conditions) for a in pair]), -1, 1)


def _max_pool_vjp_sympy(x, g, kernel, stride, padding):
    conditions = _first_max_sympy(x, kernel, stride, padding)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    out = np.zeros((x.shape[0], *padded, x.shape[1]), dtype=object)  # channels last
    route = np.frompyfunc(lambda total, value, holds: total + _piecewise(value, holds), 3, 1)
    for tap, holds in zip(_taps(out, kernel, stride), conditions):
        tap[...] = route(tap, np.moveaxis(g, 1, -1), holds)
    return _cropped(out, padding)


def _routed_samples(op: str, pooled: bool):
    def samples(rng):
        out = []
        for (x,), attrs in _max_pool_samples(rng):
            shape = window_max(x, **attrs).shape if pooled else x.shape
            out.append(((x, rng.normal(size=shape)), attrs))
        return out

    return samples


def _jvp_infer(attrs, x: Node, t: Node):
    if t.shape != x.shape:
        raise ShapeError(
            f"max pooling's tangent must be shaped like its input {x.shape}, got {t.shape}"
        )
    return _pool_infer(attrs, x)[0], t.dtype


def _vjp_infer(attrs, x: Node, g: Node):
    pooled = _pool_infer(attrs, x)[0]
    if g.shape != pooled:
        raise ShapeError(
            f"max pooling's cotangent must be shaped like its output {pooled}, got {g.shape}"
        )
    return x.shape, g.dtype


def _routing_kink(x, v):
    return _near_tie(x)


register(
    OpDef(
        "max_pool2d_jvp",
        2,
        _jvp_infer,
        kernel=window_max_jvp,
        helper="window_max_jvp",
        array_args=_call,
        normalize=_routed_attrs("max_pool2d_jvp"),
        sympy=_max_pool_jvp_sympy,
        board=lambda x, t: ("", "1 where the entry won its window (the first maximum), else 0"),
        vjp=(None, lambda g, n: apply("max_pool2d_vjp", n.inputs[0], g, **n.attrs)),
        jvp=(None, lambda t, n: apply("max_pool2d_jvp", n.inputs[0], t, **n.attrs)),
        kink=_routing_kink,
        label=lambda n: f"max pool's tangent {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_routed_samples("max_pool2d_jvp", pooled=False),
        runtime_shape=batch_first,
        flops=lambda n: size(n.shape) * size(n.attrs["kernel"]),
        doc="max pooling's jvp: the tangent at each window's first maximum of x",
    )
)

register(
    OpDef(
        "max_pool2d_vjp",
        2,
        _vjp_infer,
        kernel=window_max_vjp,
        helper="window_max_vjp",
        array_args=_call,
        normalize=_routed_attrs("max_pool2d_vjp"),
        sympy=_max_pool_vjp_sympy,
        board=lambda x, g: ("", "the upstream picked at each window's first maximum"),
        vjp=(None, lambda g, n: apply("max_pool2d_jvp", n.inputs[0], g, **n.attrs)),
        jvp=(None, lambda t, n: apply("max_pool2d_vjp", n.inputs[0], t, **n.attrs)),
        kink=_routing_kink,
        label=lambda n: f"max pool's cotangent {'×'.join(map(str, n.attrs['kernel']))}",
        samples=_routed_samples("max_pool2d_vjp", pooled=True),
        runtime_shape=batch_first,
        flops=lambda n: size(n.inputs[1].shape) * size(n.attrs["kernel"]),
        doc="max pooling's vjp: each window's upstream added at its first maximum of x",
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
