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


def _offset_views(kernel, stride, dilation, found):
    """Per kernel offset (row-major), the index of the strided view of a channels-last image
    (N, *spatial, C) that the offset reads in every window."""
    for offset in np.ndindex(*kernel):
        spatial = tuple(
            slice(o * g, o * g + s * (m - 1) + 1, s)
            for o, g, s, m in zip(offset, dilation, stride, found)
        )
        yield offset, (slice(None), *spatial, slice(None))


def _channels_last(x, padding, fill):
    """x (N, C, *size) as a contiguous channels-last array (N, *padded size, C), padded with
    `fill` by `padding` ((before, after) per spatial axis); no copy when x already is one."""
    if not any(lo or hi for lo, hi in padding):
        return np.ascontiguousarray(np.moveaxis(x, 1, -1))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    image = np.full((x.shape[0], *padded, x.shape[1]), fill, dtype=x.dtype)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    image[(slice(None), *inner, slice(None))] = np.moveaxis(x, 1, -1)
    return image


def _found(size, kernel, stride, dilation):
    """The number of window positions along each axis of a padded size (the floor rule)."""
    return tuple(
        (s - g * (k - 1) - 1) // st + 1 for s, k, st, g in zip(size, kernel, stride, dilation)
    )


def windows(x, kernel, stride, padding, dilation, fill=0.0, out=None):
    """The windows of x (N, C, *size): an array (N, *positions, C, *kernel), padded with
    `fill` by `padding` ((before, after) per spatial axis), taken every `stride` entries,
    each window reading every `dilation`-th entry; written into `out` when given (a
    generated function's buffer, kept between calls)."""
    image = _channels_last(x, padding, fill)
    found = _found(image.shape[1:-1], kernel, stride, dilation)
    if out is None:
        out = np.empty((x.shape[0], *found, x.shape[1], *kernel), dtype=x.dtype)
    for offset, view in _offset_views(kernel, stride, dilation, found):
        out[(Ellipsis, *offset)] = image[view]
    return out


def overlap_add(p, size, kernel, stride, padding, dilation):
    """The adjoint of `windows`: p (N, *positions, C, *kernel) summed back into an array
    (N, C, *size), each window's entries added where they came from (padding dropped)."""
    d = len(kernel)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    out = np.zeros((p.shape[0], *padded, p.shape[1 + d]), dtype=p.dtype)  # channels last
    for offset, view in _offset_views(kernel, stride, dilation, p.shape[1 : 1 + d]):
        out[view] += p[(Ellipsis, *offset)]
    return _cropped(out, padding)


def _cropped(image, padding):
    """A channels-last padded image without its padding, as a view (N, C, *size)."""
    crop = tuple(slice(lo, s - hi) for s, (lo, hi) in zip(image.shape[1:-1], padding))
    return np.moveaxis(image[(slice(None), *crop, slice(None))], -1, 1)


def _taps(image, kernel, stride):
    """Per kernel offset (row-major), the strided view of a channels-last image that the
    offset reads in every window: (N, *positions, C) each."""
    found = _found(image.shape[1:-1], kernel, stride, (1,) * len(kernel))
    return [image[view] for _, view in _offset_views(kernel, stride, (1,) * len(kernel), found)]


def window_max(x, kernel, stride, padding):
    """The largest entry of each window of x (padded with -inf): one elementwise maximum per
    kernel offset over whole strided views, never a reduction along a short axis."""
    taps = _taps(_channels_last(x, padding, -np.inf), kernel, stride)
    out = taps[0].copy()
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)
    return np.moveaxis(out, -1, 1)


def window_mean(x, kernel, stride, padding):
    """The mean of each window of x (padded with 0, which counts): the views summed in order."""
    taps = _taps(_channels_last(x, padding, 0.0), kernel, stride)
    out = taps[0].copy()
    for tap in taps[1:]:
        np.add(out, tap, out=out)
    return np.moveaxis(np.divide(out, float(len(taps)), out=out), -1, 1)


def first_max(x, kernel, stride, padding):
    """The offset (row-major) of each window's first maximum, as PyTorch picks it, channels
    last (N, *positions, C): an entry wins when it is larger than the best so far, or NaN.
    Winners' offsets only grow, so the offset is the largest that won: a running maximum."""
    taps = _taps(_channels_last(x, padding, -np.inf), kernel, stride)
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
    out, part = np.zeros(index.shape, t.dtype), np.empty(index.shape, t.dtype)
    for k, tap in enumerate(_taps(_channels_last(t, padding, 0.0), kernel, stride)):
        np.add(out, _picked(tap, index == k, part), out=out)
    return np.moveaxis(out, -1, 1)


def window_max_vjp(x, g, kernel, stride, padding):
    """Each window's g added at its first maximum of x (max pooling's cotangent): per kernel
    offset, the upstream where that offset won, added into a strided view of the result."""
    index = first_max(x, kernel, stride, padding)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    out = np.zeros((x.shape[0], *padded, x.shape[1]), dtype=g.dtype)  # channels last
    upstream, part = np.moveaxis(g, 1, -1), np.empty(index.shape, g.dtype)
    apart = all(st >= k for st, k in zip(stride, kernel))  # no entry in two windows
    for k, tap in enumerate(_taps(out, kernel, stride)):
        if apart:  # each entry written once: straight into the result
            _picked(upstream, index == k, tap)
        else:
            np.add(tap, _picked(upstream, index == k, part), out=tap)
    return _cropped(out, padding)
