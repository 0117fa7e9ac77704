"""Statistics along axes, as torch names them: max and min (torch.amax/amin: a tie shares
the gradient equally), var and std (torch.var/std: Bessel's correction 1 by default)."""

from __future__ import annotations

from ..errors import GraphError
from ..ir import Node, user_site
from .elementwise import sqrt
from .reductions import sum as reduce_sum
from .registry import apply, lift


def max(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001 - the public name is gc.max
    """The largest entry along `axis` (an int, a tuple, or None: all axes), as torch.amax:
    entries that tie for the maximum share its gradient equally."""
    return apply("max", x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001 - the public name is gc.min
    """The smallest entry along `axis`, as torch.amin (−max(−x))."""
    return -apply("max", -lift(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, correction: int = 1, keepdims: bool = False) -> Node:
    """The variance along `axis`: Σ (x − mean)² / (N − correction), N the number of entries
    reduced. correction=1 (the default, as torch.var's) is the unbiased estimate,
    correction=0 the population variance (what batch and layer norm use). A reduced batch
    axis is counted at run time."""
    x = lift(x)
    if not isinstance(correction, int) or isinstance(correction, bool) or correction < 0:
        raise GraphError(
            f"{user_site()}: var: correction must be a non-negative int, got {correction!r}"
        )
    total = reduce_sum(x, axis=axis, keepdims=True)
    axes = total.attrs["axis"]
    if all(x.shape[a] is not None for a in axes):
        count = 1
        for a in axes:
            count *= x.shape[a]
        if count <= correction:
            raise GraphError(
                f"{user_site()}: var: {count} entries along axis {axes} leave no degrees of "
                f"freedom with correction={correction}"
            )
        centered = x - total / float(count)
        return reduce_sum(centered * centered, axis=axes, keepdims=keepdims) / float(
            count - correction
        )
    count = apply("axis_size", x, axis=axes, dtype=total.dtype)
    centered = x - total / count
    return reduce_sum(centered * centered, axis=axes, keepdims=keepdims) / (count - correction)


def std(x, axis=None, correction: int = 1, keepdims: bool = False) -> Node:
    """The standard deviation along `axis`: √var (torch.std; correction as in `var`)."""
    return sqrt(var(x, axis=axis, correction=correction, keepdims=keepdims))
