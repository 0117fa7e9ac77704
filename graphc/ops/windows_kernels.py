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


def _taps(x, kernel, stride, padding, fill):
    """Per kernel offset (row-major), the strided view of x padded with `fill` that the offset
    reads in every window: (N, C, *positions) each (views of x itself when unpadded)."""
    if any(lo or hi for lo, hi in padding):
        pad = ((0, 0), (0, 0), *(tuple(p) for p in padding))
        x = np.pad(x, pad, constant_values=np.asarray(fill, dtype=x.dtype))
    found = [(s - k) // st + 1 for s, k, st in zip(x.shape[2:], kernel, stride)]
    return [
        x[(Ellipsis, *(slice(o, o + st * (m - 1) + 1, st) for o, st, m in zip(at, stride, found)))]
        for at in np.ndindex(*kernel)
    ]


def window_max(x, kernel, stride, padding):
    """The largest entry of each window of x (padded with -inf): one elementwise maximum per
    kernel offset over whole strided views, never a reduction along a short axis."""
    taps = _taps(x, kernel, stride, padding, -np.inf)
    out = taps[0].copy()
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)
    return out


def window_mean(x, kernel, stride, padding):
    """The mean of each window of x (padded with 0, which counts): the views summed in order."""
    taps = _taps(x, kernel, stride, padding, 0.0)
    out = taps[0].copy()
    for tap in taps[1:]:
        np.add(out, tap, out=out)
    return np.divide(out, float(len(taps)), out=out)


def first_max(x, kernel, stride, padding):
    """The offset (row-major) of each window's first maximum, as PyTorch picks it: an entry
    wins when it is larger than the best so far, or NaN. Winners' offsets only grow, so the
    offset is the largest that won: a running maximum, no masked writes."""
    taps = _taps(x, kernel, stride, padding, -np.inf)
    best = taps[0].copy()
    index = np.zeros(best.shape, np.min_scalar_type(len(taps)))
    wins, offset = np.empty(best.shape, bool), np.empty_like(index)
    nan = bool(np.isnan(x).any())
    for k, tap in enumerate(taps[1:], 1):
        np.greater(tap, best, out=wins)
        if nan:
            wins |= np.isnan(tap)
        np.maximum(best, tap, out=best)  # NaN stays, as the index does
        np.maximum(index, np.multiply(wins, index.dtype.type(k), out=offset), out=index)
    return index


def _picked(v, hit, out):
    """v where hit, +0.0 elsewhere, bit for bit (NaN and inf included), without branches."""
    itype = np.dtype(f"i{v.itemsize}")
    mask = np.negative(hit, dtype=itype)  # all ones where hit
    return np.bitwise_and(v.view(itype), mask, out=out.view(itype)).view(v.dtype)


def window_max_jvp(x, t, kernel, stride, padding):
    """t at each window's first maximum of x: max pooling's tangent."""
    index = first_max(x, kernel, stride, padding)
    taps = _taps(t, kernel, stride, padding, 0.0)
    out, part = np.zeros(index.shape, t.dtype), np.empty(index.shape, t.dtype)
    for k, tap in enumerate(taps):
        np.add(out, _picked(tap, index == k, part), out=out)
    return out


def window_max_vjp(x, g, kernel, stride, padding):
    """Each window's g added at its first maximum of x (max pooling's cotangent): per kernel
    offset, the upstream where that offset won, added into a strided view of the result."""
    index = first_max(x, kernel, stride, padding)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    out, part = np.zeros((*x.shape[:2], *padded), dtype=g.dtype), np.empty(g.shape, g.dtype)
    for k, tap in enumerate(_taps(out, kernel, stride, ((0, 0),) * len(kernel), 0.0)):
        np.add(tap, _picked(g, index == k, part), out=tap)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    return out[(slice(None), slice(None), *crop)]
