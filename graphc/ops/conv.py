"""Convolution with PyTorch's conventions (torch.nn.functional): images are NCHW (signals
NCL), weights (C_out, C_in / groups, *kernel), padding an int, a pair, "same" or "valid".

Built on one pair of linear ops: `windows` (every window of the padded input, laid out
(N, *positions, C, *kernel)) and its adjoint `overlap_add` (each window's entries added back where
they came from); windows_kernels.py has both in NumPy, and jax_runtime.py in JAX. A
convolution is the windows times the weights, one matrix product over the whole batch
(`conv_steps`, which the NumPy kernel and the lowering both run, so they agree to the last
bit). Its vjps are the ops of conv_vjp.py: for x the transposed convolution (the upstream
times the weights, overlap-added), for W the windows of x times the upstream (one product
contracting the batch and the positions together), each decomposed into these ops.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import Node, user_site
from .registry import MULTILINEAR, F, OpDef, apply, lift, register, result_dtype, size
from .windows_kernels import overlap_add as overlap_add_kernel
from .windows_kernels import windows as windows_kernel

WINDOW_KEYS = ("kernel", "stride", "padding", "dilation")


# ---- attributes: PyTorch's spellings to canonical tuples, and the errors of bad ones ------


def _ints(value, d: int, what: str, low: int = 1) -> tuple[int, ...]:
    kind = "positive" if low == 1 else "non-negative"
    if isinstance(value, (int, np.integer)):
        values = (value,) * d
    elif isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
    else:
        raise ShapeError(f"{what} must be a {kind} int or {d} of them, got {value!r}")
    if len(values) != d or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low for v in values
    ):
        raise ShapeError(f"{what} must be a {kind} int or {d} of them, got {value!r}")
    return tuple(int(v) for v in values)


def _padding(value, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    d = len(kernel)
    if value == "valid":
        return ((0, 0),) * d
    if value == "same":  # PyTorch: the odd one out goes after
        if stride != (1,) * d:
            raise ShapeError(f"padding='same' needs stride 1, got stride={stride}")
        totals = [g * (k - 1) for k, g in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(value, str):
        raise ShapeError(f"padding must be an int, a pair, 'same' or 'valid', got {value!r}")
    if isinstance(value, tuple) and all(isinstance(p, tuple) for p in value) and value:
        return tuple((lo, hi) for lo, hi in (_ints(p, 2, "padding", 0) for p in value))
    return tuple((p, p) for p in _ints(value, d, "padding", 0))


def window_attrs(attrs: dict, d: int) -> dict:
    """kernel, stride, padding ((before, after) per axis) and dilation as tuples."""
    kernel = _ints(attrs["kernel"], d, "kernel")
    stride = _ints(attrs.get("stride", 1), d, "stride")
    dilation = _ints(attrs.get("dilation", 1), d, "dilation")
    padding = _padding(attrs.get("padding", 0), kernel, stride, dilation)
    if len(padding) != d:
        raise ShapeError(f"padding needs {d} (before, after) pairs, got {padding}")
    return {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}


def positions(size_: tuple, kernel, stride, padding, dilation) -> tuple[int, ...]:
    """The number of window positions along each spatial axis (PyTorch's floor rule)."""
    out = []
    for s, k, st, (lo, hi), g in zip(size_, kernel, stride, padding, dilation):
        span = g * (k - 1) + 1
        if s is None:
            raise ShapeError("the spatial sizes must be known (only the batch may be None)")
        if s + lo + hi < span:
            raise ShapeError(
                f"the kernel {'×'.join(map(str, kernel))} (dilation "
                f"{'×'.join(map(str, dilation))}) spans {span}, more than the padded input's "
                f"{s + lo + hi} along an axis of size {s}"
            )
        out.append((s + lo + hi - span) // st + 1)
    return tuple(out)


def check_images(x: Node, d: int, op: str) -> None:
    """x must be (N, C, *spatial) with d spatial axes."""
    layout = {1: "(N, C, L)", 2: "(N, C, H, W)"}[d]
    if x.ndim != d + 2:
        hint = (
            f"; an input without its channel axis needs one: reshape it to (N, 1, "
            f"{', '.join('HW'[:d] if d == 2 else 'L')})"
            if x.ndim == d + 1
            else ""
        )
        raise ShapeError(f"the input must be {layout}, got shape {x.shape} ({x.ndim} axes){hint}")


def canonical(op: str, arrays, attrs: dict) -> dict:
    """The attrs of op `op` on inputs shaped like `arrays`, as the op stores them."""
    from .leaves import input as leaf

    inputs = [leaf(f"a{i}", np.shape(a)) for i, a in enumerate(arrays)]
    return dict(apply(op, *inputs, **attrs).attrs)


# ---- windows and overlap_add-----------------------------------------------------------------


def _windows_infer(attrs, x: Node):
    d = len(attrs["kernel"])
    check_images(x, d, "windows")
    found = positions(x.shape[2:], *(attrs[k] for k in WINDOW_KEYS))
    return (x.shape[0], *found, x.shape[1], *attrs["kernel"]), x.dtype


def _overlap_add_infer(attrs, p: Node):
    d = len(attrs["kernel"])
    if p.ndim != 2 + 2 * d:
        raise ShapeError(f"overlap-add takes windows (N, *positions, C, *kernel), got {p.shape}")
    return (p.shape[0], p.shape[1 + d], *attrs["size"]), p.dtype


def _windows_normalize(attrs, x: Node) -> dict:
    d = len(tuple(np.atleast_1d(attrs["kernel"])))
    return window_attrs(attrs, d) | {"fill": float(attrs.get("fill", 0.0))}


def _overlap_add_normalize(attrs, p: Node) -> dict:
    d = len(tuple(np.atleast_1d(attrs["kernel"])))
    return window_attrs(attrs, d) | {"size": _ints(attrs["size"], d, "size")}


def _helper_args(n: Node) -> tuple[tuple, dict]:
    return (n.inputs[0],), dict(n.attrs)


def batch_first(n: Node, x, *rest) -> list:
    """Run-time sizes: the batch of the first input, every other size static."""
    return [x[0], *n.shape[1:]]


def _window_keys(n: Node) -> dict:
    return {k: n.attrs[k] for k in WINDOW_KEYS}


def overlap_add(g: Node, x: Node, attrs: dict) -> Node:
    """g, windows of a tensor shaped like x, added back into x's shape."""
    return apply("overlap_add", g, size=tuple(x.shape[2:]), **attrs)


def windows_of(x: Node, attrs: dict, fill: float = 0.0) -> Node:
    """The windows of x (the op, with canonical window attrs)."""
    return apply("windows", x, fill=fill, **attrs)


_WINDOW_SAMPLE = dict(kernel=(2, 3), stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 2))

register(
    OpDef(
        "windows",
        1,
        _windows_infer,
        kernel=windows_kernel,
        helper="windows",
        array_args=_helper_args,
        normalize=_windows_normalize,
        sympy=windows_kernel,
        board=lambda x: ("upstream overlap-added: each window's entries added where they were",),
        vjp=(lambda g, n: overlap_add(g, n.inputs[0], _window_keys(n)),),
        jvp=(lambda t, n: windows_of(t, _window_keys(n)),),  # the padding of a tangent is 0
        label=lambda n: f"windows {'×'.join(map(str, n.attrs['kernel']))}",
        samples=lambda rng: [((rng.normal(size=(2, 2, 5, 4)),), dict(_WINDOW_SAMPLE, fill=0.0))],
        runtime_shape=batch_first,
        flops=0,
        complex_step=True,
        doc="every window of the padded input, laid out (N, *positions, C, *kernel): the "
        "patches a convolution multiplies by its weights",
    )
)

register(
    OpDef(
        "overlap_add",
        1,
        _overlap_add_infer,
        kernel=overlap_add_kernel,
        helper="overlap_add",
        array_args=_helper_args,
        normalize=_overlap_add_normalize,
        sympy=overlap_add_kernel,
        board=lambda p: ("the windows of upstream",),
        vjp=(lambda g, n: windows_of(g, _window_keys(n)),),
        jvp=MULTILINEAR,
        label=lambda n: f"overlap-add {'×'.join(map(str, n.attrs['kernel']))}",
        samples=lambda rng: [
            ((rng.normal(size=(2, 3, 2, 2, 2, 3)),), dict(_WINDOW_SAMPLE, size=(5, 4)))
        ],
        runtime_shape=batch_first,
        flops=lambda n: size(n.inputs[0].shape),
        complex_step=True,
        doc="the adjoint of windows: each window's entries added back where they came from",
    )
)


# ---- convolution --------------------------------------------------------------------------


class ArraySteps:
    """The steps of conv_steps and the pooling steps on NumPy arrays (the kernels)."""

    windows = staticmethod(windows_kernel)
    overlap_add = staticmethod(overlap_add_kernel)
    matmul = staticmethod(np.matmul)

    @staticmethod
    def reshape(a, shape):
        return np.reshape(a, shape)

    @staticmethod
    def transpose(a, axes):
        return np.transpose(a, axes)


class NodeSteps:
    """The same steps as graph ops (the lowering's decomposition)."""

    @staticmethod
    def windows(x, **attrs):
        return apply("windows", x, **attrs)

    @staticmethod
    def overlap_add(p, **attrs):
        return apply("overlap_add", p, **attrs)

    @staticmethod
    def matmul(a, b):
        return F.matmul(a, b)

    @staticmethod
    def reshape(a, shape):
        return F.reshape(a, shape=tuple(shape))

    @staticmethod
    def transpose(a, axes):
        return F.transpose(a, axes=tuple(axes))


def conv_steps(steps, x, W, kernel, stride, padding, dilation, groups):
    """The convolution as the windows of x times the weights. Ungrouped, one product
    (N, positions, C_in·kernel) @ (C_in·kernel, C_out): a single matrix product over every
    window of the batch (NumPy and XLA both run it as one GEMM); grouped, one per image and
    group. The batch stays an axis of its own (graphc's None), as the output's must."""
    d = len(kernel)
    c_out, depth = W.shape[0], size(W.shape[1:])  # depth: C_in / groups · kernel size
    found = positions(x.shape[2:], kernel, stride, padding, dilation)
    patches = steps.windows(
        x, kernel=kernel, stride=stride, padding=padding, dilation=dilation, fill=0.0
    )
    if groups == 1:
        rows = steps.reshape(patches, (-1, size(found), depth))
        out = steps.matmul(rows, steps.transpose(steps.reshape(W, (c_out, depth)), (1, 0)))
    else:
        rows = steps.reshape(patches, (-1, size(found), groups, depth))
        rows = steps.transpose(rows, (0, 2, 1, 3))  # (N, G, positions, depth)
        weights = steps.transpose(steps.reshape(W, (groups, c_out // groups, depth)), (0, 2, 1))
        out = steps.transpose(steps.matmul(rows, weights), (0, 2, 1, 3))  # (N, P, G, C/G)
    out = steps.reshape(out, (-1, *found, c_out))
    return steps.transpose(out, (0, d + 1, *range(1, d + 1)))


def conv_kernel(x, W, kernel, stride, padding, dilation, groups):
    """A convolution of arrays (the kernel of conv1d and conv2d)."""
    return conv_steps(ArraySteps, x, W, kernel, stride, padding, dilation, groups)


def _conv_attrs(d: int, op: str):
    def normalize(attrs, x: Node, W: Node) -> dict:
        check_images(x, d, op)
        if W.ndim != d + 2:
            raise ShapeError(
                f"{op} takes weights (C_out, C_in / groups, {', '.join(['k'] * d)}), "
                f"got shape {W.shape}"
            )
        if None in x.shape[1:] or None in W.shape:
            raise ShapeError(
                f"{op}: only the batch axis may be None, got x {x.shape} and weights {W.shape}"
            )
        groups = attrs.get("groups", 1)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise ShapeError(f"groups must be a positive int, got {groups!r}")
        c_in, c_out = x.shape[1], W.shape[0]
        if c_in % groups or c_out % groups:
            raise ShapeError(
                f"groups={groups} must divide the {c_in} input channels and the {c_out} "
                "output channels"
            )
        if c_in != W.shape[1] * groups:
            raise ShapeError(
                f"the input has {c_in} channels, but weights {W.shape} with groups={groups} "
                f"take {W.shape[1] * groups}"
            )
        if "kernel" in attrs and _ints(attrs["kernel"], d, "kernel") != W.shape[2:]:
            raise ShapeError(
                f"kernel {attrs['kernel']!r} does not match the weights {W.shape} (the "
                f"kernel is their last {d} axes)"
            )
        window = window_attrs(dict(attrs, kernel=W.shape[2:]), d)
        return window | {"groups": int(groups)}

    return normalize


def _conv_infer(attrs, x: Node, W: Node):
    found = positions(x.shape[2:], *(attrs[k] for k in WINDOW_KEYS))
    return (x.shape[0], W.shape[0], *found), result_dtype(x, W)


def _conv_vjp_x(g: Node, n: Node) -> Node:
    """The transposed convolution: the upstream times the weights, overlap-added into x."""
    x, W = n.inputs
    return apply("conv_vjp_x", g, W, size=x.shape[2:], **n.attrs)


def _conv_vjp_w(g: Node, n: Node) -> Node:
    """Σ over the windows of x, each times the upstream at its position."""
    return apply("conv_vjp_w", n.inputs[0], g, **n.attrs)


def _conv_flops(n: Node) -> int:
    return 2 * size(n.shape) * size(n.inputs[1].shape[1:])


def _conv_samples(d: int):
    cases = {
        2: [  # (x shape, W shape, attrs)
            ((2, 1, 4, 3), (2, 1, 3, 2), {}),  # odd and even sizes, no padding
            ((1, 1, 5, 4), (2, 1, 3, 3), {"stride": 2, "padding": 1}),  # batch 1
            ((1, 2, 4, 3), (2, 1, 2, 2), {"padding": "same", "dilation": 2, "groups": 2}),
        ],
        1: [
            ((2, 2, 7), (2, 2, 3), {"stride": 2, "padding": 1}),
            ((1, 4, 6), (4, 2, 2), {"padding": "same", "dilation": 2, "groups": 2}),
        ],
    }[d]

    def samples(rng):
        out = []
        for xs, ws, attrs in cases:
            arrays = (rng.normal(size=xs), rng.normal(size=ws))
            out.append((arrays, canonical(f"conv{d}d", arrays, attrs)))
        return out

    return samples


def conv_samples(rng) -> list:
    """The registry samples of conv1d and of conv2d: (arrays (x, W), canonical attrs)."""
    return _conv_samples(1)(rng) + _conv_samples(2)(rng)


def _register_conv(d: int) -> None:
    name = f"conv{d}d"
    register(
        OpDef(
            name,
            2,
            _conv_infer,
            kernel=conv_kernel,
            decompose=lambda n: conv_steps(NodeSteps, *n.inputs, **n.attrs),
            normalize=_conv_attrs(d, name),
            sympy=conv_kernel,
            board=lambda x, W: (
                f"conv_transpose(upstream, {W})\n= each upstream entry sent back through {W} "
                "onto its window",
                f"Σ patches({x}) · upstream\n= each window of {x} times its upstream entry, "
                "summed over the windows and the batch",
            ),
            vjp=(_conv_vjp_x, _conv_vjp_w),
            jvp=MULTILINEAR,
            label=lambda n: f"{n.op} {'×'.join(map(str, n.attrs['kernel']))}",
            samples=_conv_samples(d),
            runtime_shape=batch_first,
            flops=_conv_flops,
            complex_step=True,
            doc=f"{name} as torch.nn.functional.{name} (without the bias, which is an add)",
        )
    )


_register_conv(1)
_register_conv(2)


def _conv(d: int, x, W, b, stride, padding, dilation, groups) -> Node:
    y = apply(f"conv{d}d", x, W, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if b is None:
        return y
    b = lift(b, y)
    if b.shape != (y.shape[1],):
        raise ShapeError(
            f"{user_site()}: conv{d}d: the bias must have shape ({y.shape[1]},), got {b.shape}"
        )
    return y + F.reshape(b, shape=(-1,) + (1,) * d)


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1) -> Node:
    """2-d convolution of images (N, C_in, H, W) with weights (C_out, C_in / groups, kh, kw),
    as torch.nn.functional.conv2d: padding an int, a pair, 'same' (stride 1) or 'valid'."""
    return _conv(2, x, W, b, stride, padding, dilation, groups)


def conv1d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1) -> Node:
    """1-d convolution of signals (N, C_in, L) with weights (C_out, C_in / groups, k), as
    torch.nn.functional.conv1d."""
    return _conv(1, x, W, b, stride, padding, dilation, groups)
