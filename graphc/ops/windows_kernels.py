"""The windows of an image and their adjoint, in NumPy: the kernels of the `windows` and
`overlap_add` ops (graphc/ops/conv.py), of pooling (graphc/ops/pooling.py), and the helpers
generated NumPy modules call for them (this module is copied whole into a generated module
that uses one; it imports NumPy only).

Every function loops over the kernel's offsets (9 steps for 3x3), never over pixels, and
each step is one NumPy call over whole strided views. `windows` and `overlap_add` work on a
channels-last copy of the image, so that each step's innermost axis is the channels (long
and contiguous) rather than a row of a few positions: NumPy's per-row overhead, not the
arithmetic, is what a 4x4 feature map costs otherwise.
"""

import numpy as np


def _offset_views(kernel, stride, dilation, found, channels_last):
    """Per kernel offset (row-major), the index of the strided view of an image (channels
    last, or N, C, *spatial) that the offset reads in every window."""
    lead = (slice(None),) if channels_last else (slice(None), slice(None))
    tail = (slice(None),) if channels_last else ()
    for offset in np.ndindex(*kernel):
        spatial = tuple(
            slice(o * g, o * g + s * (m - 1) + 1, s)
            for o, g, s, m in zip(offset, dilation, stride, found)
        )
        yield offset, (*lead, *spatial, *tail)


def windows(x, kernel, stride, padding, dilation, fill=0.0):
    """The windows of x (N, C, *size): an array (N, *positions, C, *kernel), padded with
    `fill` by `padding` ((before, after) per spatial axis), taken every `stride` entries,
    each window reading every `dilation`-th entry."""
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    image = np.full((x.shape[0], *padded, x.shape[1]), fill, dtype=x.dtype)  # channels last
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    image[(slice(None), *inner, slice(None))] = np.moveaxis(x, 1, -1)
    found = tuple(
        (s - g * (k - 1) - 1) // st + 1 for s, k, st, g in zip(padded, kernel, stride, dilation)
    )
    out = np.empty((x.shape[0], *found, x.shape[1], *kernel), dtype=x.dtype)
    for offset, view in _offset_views(kernel, stride, dilation, found, True):
        out[(Ellipsis, *offset)] = image[view]
    return out


def overlap_add(p, size, kernel, stride, padding, dilation):
    """The adjoint of `windows`: p (N, *positions, C, *kernel) summed back into an array
    (N, C, *size), each window's entries added where they came from (padding dropped)."""
    d = len(kernel)
    found = p.shape[1 : 1 + d]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    out = np.zeros((p.shape[0], *padded, p.shape[1 + d]), dtype=p.dtype)  # channels last
    for offset, view in _offset_views(kernel, stride, dilation, found, True):
        out[view] += p[(Ellipsis, *offset)]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return np.moveaxis(out[(slice(None), *crop, slice(None))], -1, 1)


def _taps(x, kernel, stride, padding, fill):
    """Per kernel offset (row-major), the strided view of x padded with `fill` that the offset
    reads in every window: (N, C, *positions) each (views of x itself when unpadded)."""
    if any(lo or hi for lo, hi in padding):
        pad = ((0, 0), (0, 0), *(tuple(p) for p in padding))
        x = np.pad(x, pad, constant_values=np.asarray(fill, dtype=x.dtype))
    found = [(s - k) // st + 1 for s, k, st in zip(x.shape[2:], kernel, stride)]
    ones = (1,) * len(kernel)
    return [x[view] for _, view in _offset_views(kernel, stride, ones, found, False)]


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
