"""Reductions: sum, the size of reduced axes (for means over a batch of unknown size),
and the softmax family along one axis, each computed stably."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import ShapeError
from ..ir import Node
from .registry import (
    BROADCAST,
    KERNEL,
    MULTILINEAR,
    F,
    OpDef,
    SizeOf,
    apply,
    attr_label,
    float_like,
    normalize_axis,
    per_input_element,
    reduced_shape,
    register,
    result_dtype,
    sample_inputs,
    size,
)
from .shape import drop_axis


def _axes_attrs(attrs, x: Node) -> dict:
    return {
        "axis": normalize_axis(attrs.get("axis"), x.ndim),
        "keepdims": bool(attrs.get("keepdims", False)),
    }


def _sum_infer(attrs, x: Node):
    return reduced_shape(x.shape, attrs["axis"], attrs["keepdims"]), result_dtype(x)


def _expanded(g: Node, n: Node) -> Node:
    """The cotangent of a reduction with the reduced axes put back as size 1."""
    return g if n.attrs["keepdims"] else F.expand_dims(g, axis=n.attrs["axis"])


def _reduce_args(n: Node) -> tuple[tuple, dict]:
    return (n.inputs[0],), {"axis": n.attrs["axis"], "keepdims": n.attrs["keepdims"]}


def sum_kernel(x, axis, keepdims):
    return np.asarray(np.sum(x, axis=axis, keepdims=keepdims))


register(
    OpDef(
        "sum",
        1,
        _sum_infer,
        kernel=sum_kernel,
        normalize=_axes_attrs,
        array_fn="sum",
        array_args=_reduce_args,
        sympy=KERNEL,
        board=lambda x: ("1: upstream copied to every summed entry",),
        vjp=(lambda g, n: F.broadcast_like(_expanded(g, n), n.inputs[0]),),
        jvp=MULTILINEAR,
        label=lambda n: f"sum(axis={n.attrs['axis']})",
        samples=sample_inputs((3, 4), axis=(1,), keepdims=False),
        runtime_shape=lambda n, x: reduced_shape(x, n.attrs["axis"], n.attrs["keepdims"]),
        flops=per_input_element(1),
        complex_step=True,
    )
)


def max_kernel(x, axis, keepdims):
    return np.asarray(np.max(x, axis=axis, keepdims=keepdims))


def _max2(a, b):
    """max(a, b) as (a + b + |a - b|) / 2: its derivatives are signs, not Piecewise (a tie
    shares the gradient, as the vjp does)."""
    return (a + b + sp.Abs(a - b)) / 2


def _max_sympy(x, axis, keepdims):
    """The maximum over `axis` (the reduced axes moved last and flattened into one)."""
    x = np.asarray(x, dtype=object)
    rest = [a for a in range(x.ndim) if a not in axis]
    flat = np.transpose(x, rest + list(axis)).reshape([x.shape[a] for a in rest] + [-1])
    out = np.asarray(np.frompyfunc(_max2, 2, 1).reduce(flat, axis=-1), dtype=object)
    return out.reshape(reduced_shape(x.shape, axis, keepdims))


def _max_share(n: Node) -> Node:
    """Where x attains its maximum, 1 / (how many entries tie for it); 0 elsewhere."""
    x = n.inputs[0]
    top = F.max(x, axis=n.attrs["axis"], keepdims=True)
    hit = F.where(F.equal(x, F.broadcast_like(top, x)), 1.0, 0.0)
    return hit / F.sum(hit, axis=n.attrs["axis"], keepdims=True)


register(
    OpDef(
        "max",
        1,
        _sum_infer,
        kernel=max_kernel,
        normalize=_axes_attrs,
        array_fn="max",
        array_args=_reduce_args,
        sympy=_max_sympy,
        vjp=(lambda g, n: F.broadcast_like(_expanded(g, n), n.inputs[0]) * _max_share(n),),
        jvp=(
            lambda t, n: F.sum(
                t * _max_share(n), axis=n.attrs["axis"], keepdims=n.attrs["keepdims"]
            ),
        ),
        # a tie for the top of a row (the samples reduce the last axis)
        kink=lambda x: np.diff(np.sort(x, axis=-1)[..., -2:], axis=-1)[..., 0],
        complex_step=False,
        label=lambda n: f"max(axis={n.attrs['axis']})",
        samples=sample_inputs((3, 2), axis=(1,), keepdims=False),
        runtime_shape=lambda n, x: reduced_shape(x, n.attrs["axis"], n.attrs["keepdims"]),
        flops=per_input_element(1),
        doc="the largest entry along the axes; a tie shares the gradient equally",
    )
)


def vdot_kernel(a, b):
    return np.asarray(np.vdot(a, b))


def _vdot_infer(attrs, a: Node, b: Node):
    if a.shape != b.shape:
        raise ShapeError(f"vdot needs two operands of one shape, got {a.shape} and {b.shape}")
    return (), result_dtype(a, b)


register(
    OpDef(
        "vdot",
        2,
        _vdot_infer,
        kernel=vdot_kernel,
        array_fn="vdot",
        sympy=lambda a, b: np.sum(a * b),
        vjp=(lambda g, n: g * n.inputs[1], lambda g, n: g * n.inputs[0]),
        jvp=MULTILINEAR,
        label="Σ a·b",
        complex_step=False,  # np.vdot conjugates its first operand
        commutative=True,
        flops=lambda n: 2 * size(n.inputs[0].shape),  # a multiply and an add per entry
        samples=sample_inputs((3, 4), (3, 4)),
        doc="the sum of a * b over every entry in one pass (sum of squares: vdot(a, a))",
    )
)


def axis_size_kernel(x, axis, dtype):
    size = 1
    for a in axis:
        size *= x.shape[a]
    return np.asarray(size, dtype=dtype)


register(
    OpDef(
        "axis_size",
        1,
        lambda attrs, x: ((), attrs["dtype"]),
        kernel=axis_size_kernel,
        array_fn="asarray",
        array_args=lambda n: (
            (SizeOf(n.inputs[0], n.attrs["axis"]),),
            {"dtype": n.attrs["dtype"]},
        ),
        normalize=lambda attrs, x: {
            "axis": normalize_axis(attrs.get("axis"), x.ndim),
            "dtype": attrs.get("dtype") or result_dtype(x),
        },
        sympy=lambda x, axis, dtype: axis_size_kernel(x, axis, dtype),
        nondiff=True,
        label=attr_label,
        samples=sample_inputs((3, 4), axis=(0,), dtype="float64"),
        shape_only=(0,),
        reads_sizes="axis",
        view=True,
        flops=0,
        complex_step=True,
        doc="the number of elements in the given axes, known only at run time",
    )
)


def _one_axis(attrs, x: Node) -> dict:
    (axis,) = normalize_axis(attrs.get("axis", -1), x.ndim)
    out = {"axis": axis}
    if "keepdims" in attrs:
        out["keepdims"] = bool(attrs["keepdims"])
    return out


def logsumexp_kernel(x, axis, keepdims):
    """log(sum(exp(x))) shifted by the maximum, so large logits do not overflow."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax_kernel(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_kernel(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _shifted(x: Node, axis: int) -> Node:
    return x - F.max(x, axis=axis, keepdims=True)


def _lse_parts(n: Node) -> Node:
    """logsumexp_kernel's steps as ops, for lowering."""
    x, axis = n.inputs[0], n.attrs["axis"]
    m = F.max(x, axis=axis, keepdims=True)
    m = F.where(F.less(F.abs(m), np.inf), m, 0.0)  # |m| < inf: np.isfinite
    out = m + F.log(F.sum(F.exp(x - m), axis=axis, keepdims=True))
    return out if n.attrs["keepdims"] else drop_axis(out, axis)


def _softmax_parts(n: Node) -> Node:
    e = F.exp(_shifted(n.inputs[0], n.attrs["axis"]))
    return e / F.sum(e, axis=n.attrs["axis"], keepdims=True)


def _log_softmax_parts(n: Node) -> Node:
    shifted = _shifted(n.inputs[0], n.attrs["axis"])
    return shifted - F.log(F.sum(F.exp(shifted), axis=n.attrs["axis"], keepdims=True))


def _sp_exp(x):
    return np.vectorize(sp.exp, otypes=[object])(x)


def _sp_logsumexp(x, axis, keepdims=True):
    total = np.sum(_sp_exp(x), axis=axis, keepdims=keepdims)
    return np.vectorize(sp.log, otypes=[object])(total)


def sum_kept(n: Node, v: Node) -> Node:
    """`v` summed along the axis of `n` (an op with an `axis` attr), kept as size 1."""
    return F.sum(v, axis=n.attrs["axis"], keepdims=True)


def _lse_infer(attrs, x):
    return reduced_shape(x.shape, (attrs["axis"],), attrs["keepdims"]), result_dtype(x)


def _softmax_of(n: Node) -> Node:
    return F.softmax(n.inputs[0], axis=n.attrs["axis"])


register(
    OpDef(
        "logsumexp",
        1,
        _lse_infer,
        kernel=logsumexp_kernel,
        decompose=_lse_parts,
        normalize=_one_axis,
        sympy=lambda x, axis, keepdims: _sp_logsumexp(x, axis, keepdims),
        board=lambda x: (f"softmax({x})",),
        vjp=(
            lambda g, n: (
                F.expand_dims(g, axis=(n.attrs["axis"],)) * _softmax_of(n)
                if not n.attrs["keepdims"]
                else g * _softmax_of(n)
            ),
        ),
        jvp=(
            lambda t, n: F.sum(
                t * _softmax_of(n), axis=n.attrs["axis"], keepdims=n.attrs["keepdims"]
            ),
        ),
        label=attr_label,
        samples=sample_inputs((3, 4), axis=1, keepdims=False),
        runtime_shape=lambda n, x: reduced_shape(x, (n.attrs["axis"],), n.attrs["keepdims"]),
        flops=per_input_element(4),
        complex_step=True,
    )
)

register(
    OpDef(
        "softmax",
        1,
        float_like,
        kernel=softmax_kernel,
        decompose=_softmax_parts,
        normalize=_one_axis,
        sympy=lambda x, axis: _sp_exp(x) / np.sum(_sp_exp(x), axis=axis, keepdims=True),
        board=lambda x: ("s ⊙ (upstream − Σ upstream ⊙ s), s = softmax",),
        vjp=(lambda g, n: n * (g - sum_kept(n, g * n)),),
        jvp=(lambda t, n: n * (t - sum_kept(n, t * n)),),
        label=attr_label,
        samples=sample_inputs((3, 4), axis=1),
        runtime_shape=BROADCAST,
        flops=5,
        complex_step=True,
    )
)

register(
    OpDef(
        "log_softmax",
        1,
        float_like,
        kernel=log_softmax_kernel,
        decompose=_log_softmax_parts,
        normalize=_one_axis,
        sympy=lambda x, axis: x - _sp_logsumexp(x, axis),
        board=lambda x: (f"upstream − softmax({x}) · Σ upstream",),
        vjp=(lambda g, n: g - _softmax_of(n) * sum_kept(n, g),),
        jvp=(lambda t, n: t - sum_kept(n, _softmax_of(n) * t),),
        label=attr_label,
        samples=sample_inputs((3, 4), axis=1),
        runtime_shape=BROADCAST,
        flops=5,
        complex_step=True,
    )
)


def sum(x, axis=None, keepdims: bool = False) -> Node:  # noqa: A001 - the public name is gc.sum
    """Sum over `axis` (an int, a tuple, or None for all axes)."""
    return apply("sum", x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Node:
    """Mean over `axis`; a reduced batch dimension is counted at run time."""
    total = apply("sum", x, axis=axis, keepdims=keepdims)
    axes = total.attrs["axis"]
    x = total.inputs[0]
    if all(x.shape[a] is not None for a in axes):
        count = 1
        for a in axes:
            count *= x.shape[a]
        return total / float(count)
    return total / apply("axis_size", x, axis=axes, dtype=total.dtype)


def logsumexp(x, axis: int | tuple | None = -1, keepdims: bool = False) -> Node:
    """log(sum(exp(x), axis)) without overflow; `axis` may be several axes, or None (all)."""
    axes = _several_axes(x, axis)
    if axes is None:
        return apply("logsumexp", x, axis=axis, keepdims=keepdims)
    m = apply("max", x, axis=axes, keepdims=True)
    m = F.where(F.less(F.abs(m), np.inf), m, 0.0)  # all -inf: no shift, as the kernel does
    out = m + F.log(apply("sum", F.exp(x - m), axis=axes, keepdims=True))
    return out if keepdims else apply("sum", out, axis=axes, keepdims=False)  # drop the 1s


def softmax(x, axis: int | tuple | None = -1) -> Node:
    """exp(x) / sum(exp(x)) along `axis` (one, several or None: all), without overflow."""
    axes = _several_axes(x, axis)
    if axes is None:
        return apply("softmax", x, axis=axis)
    e = F.exp(x - apply("max", x, axis=axes, keepdims=True))
    return e / apply("sum", e, axis=axes, keepdims=True)


def log_softmax(x, axis: int | tuple | None = -1) -> Node:
    """x - logsumexp(x) along `axis` (one, several or None: all): the stable log of softmax."""
    axes = _several_axes(x, axis)
    if axes is None:
        return apply("log_softmax", x, axis=axis)
    shifted = x - apply("max", x, axis=axes, keepdims=True)
    return shifted - F.log(apply("sum", F.exp(shifted), axis=axes, keepdims=True))


def _several_axes(x, axis) -> tuple | None:
    """The axes when `axis` names more than one (None: all of a 2-d or larger x), else None:
    one axis is the op itself; several are composed from max, exp and sum."""
    ndim = getattr(x, "ndim", np.ndim(x))
    if axis is None and ndim > 1:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)) and len(axis) > 1:
        return tuple(axis)
    return None
