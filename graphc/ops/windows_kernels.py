"""The windows of an image and their adjoint, in NumPy: the kernels of the `windows` and
`overlap_add` ops (graphc/ops/conv.py), and the helpers generated NumPy modules call for them
(this module is copied whole into a generated module that uses one; it imports NumPy only).

`windows` gathers every window of the padded input with `sliding_window_view` (a view) and
copies it once, channels after the window positions, so that a convolution is one matrix
product of its rows; `overlap_add` adds each window's entries back where they came from, one
strided slice per kernel offset: a loop over the kernel (9 steps for 3x3), never over pixels.
"""

import numpy as np


def windows(x, kernel, stride, padding, dilation, fill=0.0):
    """The windows of x (N, C, *size): an array (N, *positions, C, *kernel), padded with
    `fill` by `padding` ((before, after) per spatial axis), taken every `stride` entries,
    each window reading every `dilation`-th entry."""
    d = len(kernel)
    if any(lo or hi for lo, hi in padding):
        pad = ((0, 0), (0, 0), *(tuple(p) for p in padding))
        x = np.pad(x, pad, constant_values=np.asarray(fill, dtype=x.dtype))
    span = tuple(g * (k - 1) + 1 for k, g in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + d)))
    view = view[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    view = view[(Ellipsis, *(slice(None, None, g) for g in dilation))]
    axes = (0, *range(2, 2 + d), 1, *range(2 + d, 2 + 2 * d))
    return np.ascontiguousarray(view.transpose(axes))


def overlap_add(p, size, kernel, stride, padding, dilation):
    """The adjoint of `windows`: p (N, *positions, C, *kernel) summed back into an array
    (N, C, *size), each window's entries added where they came from (padding dropped)."""
    d = len(kernel)
    positions = p.shape[1 : 1 + d]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    out = np.zeros((p.shape[0], p.shape[1 + d], *padded), dtype=p.dtype)
    q = p.transpose((0, 1 + d, *range(1, 1 + d), *range(2 + d, 2 + 2 * d)))
    for offset in np.ndindex(*kernel):
        index = tuple(
            slice(o * g, o * g + s * (m - 1) + 1, s)
            for o, g, s, m in zip(offset, dilation, stride, positions)
        )
        out[(slice(None), slice(None), *index)] += q[(Ellipsis, *offset)]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return out[(slice(None), slice(None), *crop)]
