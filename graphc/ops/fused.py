"""Fused ops made by the fusion pass: one op, one pass over the arrays, for the patterns
that dominate training. Each is a complete op (its own derivatives too), so a
fused graph can still be differentiated, drawn, saved and lowered.

softmax_xent_grad(logits, target, scale)  scale * (softmax(logits) * sum(t) - t), where t
    is one_hot(target) for integer class ids or the target itself for probability rows.
    With one-hot rows sum(t) is 1 and this is softmax cross-entropy's backward,
    (softmax - one_hot) / batch when scale is 1 / batch.
target_log_prob(logits, target)           sum(t * log_softmax(logits)): each row's log-
    probability of its target, the forward of softmax cross-entropy (negated), for class ids
    without building one-hot rows
    Both take `log_probs=True` when their input is log-probabilities already (the forward's
    log_softmax, shared): softmax is then exp and log_softmax the identity, so the loss and
    its backward normalize the logits once. The ops are these functions of any input.
prelu_vjp_x(x, alpha, g)                  where(x > 0, g, alpha * g): PReLU's x cotangent
prelu_vjp_alpha(x, g, shape=...)          sum_to(where(x > 0, 0, g * x), shape): its alpha
    cotangent, reduced to alpha's shape in the same op (stored as the axes summed, `axis`,
    and the leading axes dropped, `lead`)
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import DtypeError, ShapeError
from ..ir import Node
from .binary import first_positive, where_sympy
from .reductions import sum_kept
from .registry import (
    BROADCAST,
    F,
    OpDef,
    broadcast_shapes,
    normalize_axis,
    per_input_element,
    reduced_shape,
    register,
    result_dtype,
    scalar_sympy,
    size,
)
from .shape import drop_leading, one_hot_columns, sum_to_axes

# ---- softmax cross-entropy backward -------------------------------------------------------


def softmax_xent_grad_kernel(logits, target, scale, axis, log_probs=False):
    """scale * (softmax(logits) * sum(t, axis) - t); t = one_hot(target) for class ids;
    exp(logits) for softmax(logits) with `log_probs`."""
    if log_probs:
        p = np.exp(logits)
    else:
        p = logits - np.max(logits, axis=axis, keepdims=True)
        np.exp(p, out=p)
        p /= np.sum(p, axis=axis, keepdims=True)
    hot, every_row = _one_hot_rows(logits, target)
    if hot is not None:  # class ids along the last axis
        if not every_row:  # an id out of range: an all-zero one-hot row, so a zero row
            p *= np.any(hot, axis=-1, keepdims=True)
        p -= hot
    else:
        p = p * np.sum(target, axis=axis, keepdims=True) - target
    # p is the kernel's own temporary: scale it in place when NumPy's promotion (as in
    # p * scale) keeps its dtype and the scale its shape
    if type(scale) is float or (
        type(scale) in (np.float64, np.float32, np.ndarray)
        and scale.ndim == 0
        and scale.dtype == p.dtype
    ):
        return np.multiply(p, scale, out=p)
    return p * scale


def _one_hot_rows(logits, target):
    """(one_hot(target) as a bool mask shaped like the logits, whether every row has its one
    entry) for class ids (one axis fewer than the logits); (None, False) for probability
    rows. An id out of range gets an all-False row."""
    if type(target) is not np.ndarray or type(logits) is not np.ndarray:  # rare: lists, scalars
        target, logits = np.asarray(target), np.asarray(logits)
    if target.ndim != logits.ndim - 1:
        return None, False
    hot = target[..., None] == np.arange(logits.shape[-1])
    return hot, np.count_nonzero(hot) == target.size


def _xent_attrs(attrs, logits: Node, *_: Node) -> dict:
    (axis,) = normalize_axis(attrs.get("axis", -1), logits.ndim)
    return {"axis": axis, "log_probs": bool(attrs.get("log_probs", False))}


def _check_target(attrs, logits: Node, target: Node) -> None:
    if target.dtype.startswith("int"):
        if logits.ndim < 2 or target.ndim != logits.ndim - 1 or attrs["axis"] != logits.ndim - 1:
            raise ShapeError(
                f"class ids {target.shape} need logits {logits.shape} with the "
                "classes on the last axis"
            )
    elif target.dtype == "bool":
        raise DtypeError("the target must be class ids (int) or probabilities (float)")
    elif (
        target.ndim != logits.ndim or broadcast_shapes(logits.shape, target.shape) != logits.shape
    ):  # the same ndim: fewer axes would mean class ids
        raise ShapeError(f"target {target.shape} does not fit logits {logits.shape}")


def _xent_infer(attrs, logits: Node, target: Node, scale: Node):
    _check_target(attrs, logits, target)
    if broadcast_shapes(logits.shape, scale.shape) != logits.shape:
        raise ShapeError(f"scale {scale.shape} does not broadcast to logits {logits.shape}")
    return logits.shape, result_dtype(logits, scale)


def _dense_target(n: Node) -> Node:
    logits, target = n.inputs[:2]
    if target.dtype.startswith("int"):
        return F.one_hot(target, depth=logits.shape[-1], dtype=n.dtype)
    return target


def _probs(n: Node) -> Node:
    """softmax of the first input: exp of it when it holds log-probabilities."""
    if n.attrs["log_probs"]:
        return F.exp(n.inputs[0])
    return F.softmax(n.inputs[0], axis=n.attrs["axis"])


def _log_probs(n: Node) -> Node:
    """log_softmax of the first input: the input itself when it holds log-probabilities."""
    return n.inputs[0] if n.attrs["log_probs"] else F.log_softmax(n.inputs[0], axis=n.attrs["axis"])


def _softmax_vjp(n: Node, h: Node) -> Node:
    """h through _probs' Jacobian (symmetric, so also its jvp)."""
    p = _probs(n)
    return p * h if n.attrs["log_probs"] else p * (h - sum_kept(n, h * p))


def _xent_vjp_logits(g: Node, n: Node) -> Node:
    return _softmax_vjp(n, g * n.inputs[2] * sum_kept(n, _dense_target(n)))


def _xent_vjp_target(g: Node, n: Node) -> Node:
    p = _probs(n)
    h = g * n.inputs[2]  # the scale may vary along the row, so it goes inside the row sum
    return sum_kept(n, h * p) - h


def _xent_unscaled(n: Node) -> Node:
    p = _probs(n)
    t = _dense_target(n)
    return p * sum_kept(n, t) - t


def _xent_parts(n: Node) -> Node:
    """The op from ops, for lowering: with class ids every one-hot row holds one 1 (ids are
    checked where data enters, graphc/feeds.py), so the row sum is dropped."""
    if n.inputs[1].dtype.startswith("int"):
        return (_probs(n) - _dense_target(n)) * n.inputs[2]
    return _xent_unscaled(n) * n.inputs[2]


def _xent_sympy(logits, target, scale, axis, log_probs=False):
    e = np.vectorize(sp.exp, otypes=[object])(logits)
    p = e if log_probs else e / np.sum(e, axis=axis, keepdims=True)
    if np.ndim(target) == np.ndim(logits) - 1:
        depth = np.shape(logits)[-1]
        same = np.vectorize(lambda label, k: sp.Integer(int(int(label) == int(k))), otypes=[object])
        target = same(np.asarray(target)[..., None], np.arange(depth))
    return scale * (p * np.sum(target, axis=axis, keepdims=True) - target)


def _xent_samples(rng):
    logits = rng.normal(size=(5, 4))
    return [
        ((logits, rng.integers(0, 4, size=5), rng.uniform(0.5, 2.0, size=())), {"axis": 1}),
        ((logits, np.array([0, 3, 1, 3, 2]), np.array(0.2)), {"axis": 1}),
        (
            (logits, rng.dirichlet(np.ones(4), size=5), rng.uniform(0.5, 2.0, size=(5, 1))),
            {"axis": 1},
        ),
        (
            (logits, rng.dirichlet(np.ones(4), size=5), rng.uniform(0.5, 2.0, size=(4,))),
            {"axis": 1},
        ),  # a scale that varies along the row
        (
            (logits, np.array([1, 0, 2, 3, 1]), rng.uniform(0.5, 2.0, size=())),
            {"axis": 1, "log_probs": True},
        ),
        (
            (logits, rng.dirichlet(np.ones(4), size=5), rng.uniform(0.5, 2.0, size=(4,))),
            {"axis": 1, "log_probs": True},
        ),
    ]


register(
    OpDef(
        "softmax_xent_grad",
        3,
        _xent_infer,
        kernel=softmax_xent_grad_kernel,
        decompose=_xent_parts,
        normalize=_xent_attrs,
        vjp=(_xent_vjp_logits, _xent_vjp_target, lambda g, n: g * _xent_unscaled(n)),
        jvp=(
            lambda t, n: n.inputs[2] * sum_kept(n, _dense_target(n)) * _softmax_vjp(n, t),
            lambda t, n: n.inputs[2] * (_probs(n) * sum_kept(n, t) - t),
            lambda t, n: t * _xent_unscaled(n),
        ),
        sympy=_xent_sympy,
        label="softmax - onehot",
        runtime_shape=BROADCAST,
        # with log-probabilities: exp, subtract, multiply; else a softmax (5) more
        flops=lambda n: (3 if n.attrs["log_probs"] else 7) * size(n.shape),
        samples=_xent_samples,
        doc="softmax cross-entropy's backward in one op: scale * (softmax(z) * sum(t) - t)",
    )
)


# ---- softmax cross-entropy forward: sum(t * log_softmax(z)) per row ---------------------


def target_log_prob_kernel(logits, target, axis, log_probs=False):
    """sum(t * log_softmax(logits), axis): each row's log-probability of its target; with
    `log_probs`, sum(t * logits, axis) (the logits are log-probabilities already)."""
    shifted = logits if log_probs else logits - np.max(logits, axis=axis, keepdims=True)
    hot, every_row = _one_hot_rows(logits, target)
    if every_row and hot.shape == np.shape(shifted):  # one entry per row: pick it
        picked = np.asarray(shifted)[hot].reshape(hot.shape[:-1])
        if not log_probs:
            picked -= np.log(np.sum(np.exp(shifted), axis=axis))
        return picked
    log_total = 0 if log_probs else np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    if hot is not None:  # an out-of-range id: a zero one_hot row, so a zero
        depth = np.shape(logits)[-1]
        valid = (target >= 0) & (target < depth)
        picked = np.take_along_axis(shifted, np.where(valid, target, 0)[..., None], axis=-1)
        return np.where(valid, (picked - log_total)[..., 0], 0)
    return np.sum(target * (shifted - log_total), axis=axis)


_PER_LOGIT = per_input_element(4)


def _log_prob_infer(attrs, logits: Node, target: Node):
    _check_target(attrs, logits, target)
    shape = logits.shape[: attrs["axis"]] + logits.shape[attrs["axis"] + 1 :]
    return shape, result_dtype(logits)


def _log_prob_sympy(logits, target, axis, log_probs=False):
    e = np.vectorize(sp.exp, otypes=[object])(logits)
    log_p = (
        logits
        if log_probs
        else logits - np.vectorize(sp.log, otypes=[object])(np.sum(e, axis=axis, keepdims=True))
    )
    if np.ndim(target) == np.ndim(logits) - 1:
        same = np.vectorize(lambda label, k: sp.Integer(int(int(label) == int(k))), otypes=[object])
        target = same(np.asarray(target)[..., None], np.arange(np.shape(logits)[-1]))
    return np.sum(target * log_p, axis=axis)


def _log_prob_parts(n: Node) -> Node:
    """target_log_prob_kernel's result from ops, for lowering: the picked entries (zero for
    an id out of range, whatever the other entries hold) or the sum over probability rows."""
    logits, target = n.inputs
    if target.dtype.startswith("int"):
        hot = F.equal(F.expand_dims(target, axis=(target.ndim,)), one_hot_columns(logits))
        return F.sum(F.where(hot, _log_probs(n), 0.0), axis=n.attrs["axis"])
    return F.sum(target * _log_probs(n), axis=n.attrs["axis"])


def _keep_axis(n: Node, g: Node) -> Node:
    return F.expand_dims(g, axis=(n.attrs["axis"],))


def _log_prob_vjp_logits(g: Node, n: Node) -> Node:
    if n.attrs["log_probs"]:  # linear in the logits
        return _keep_axis(n, g) * _dense_target(n)
    return F.softmax_xent_grad(
        n.inputs[0], n.inputs[1], F.neg(_keep_axis(n, g)), axis=n.attrs["axis"]
    )


def _log_prob_jvp_logits(t: Node, n: Node) -> Node:
    if n.attrs["log_probs"]:
        return F.sum(t * _dense_target(n), axis=n.attrs["axis"])
    return F.sum(
        t * F.softmax_xent_grad(n.inputs[0], n.inputs[1], -1.0, axis=n.attrs["axis"]),
        axis=n.attrs["axis"],
    )


register(
    OpDef(
        "target_log_prob",
        2,
        _log_prob_infer,
        kernel=target_log_prob_kernel,
        decompose=_log_prob_parts,
        normalize=_xent_attrs,
        vjp=(_log_prob_vjp_logits, lambda g, n: _keep_axis(n, g) * _log_probs(n)),
        jvp=(_log_prob_jvp_logits, lambda t, n: F.sum(t * _log_probs(n), axis=n.attrs["axis"])),
        sympy=_log_prob_sympy,
        label="Σ t·log softmax",
        runtime_shape=lambda n, logits, target: reduced_shape(logits, (n.attrs["axis"],), False),
        # with log-probabilities a pick per row; else a log-softmax per logit
        flops=lambda n: size(n.shape) if n.attrs["log_probs"] else _PER_LOGIT(n),
        samples=lambda rng: [(s[0][:2], s[1]) for k, s in enumerate(_xent_samples(rng)) if k != 3],
        doc="softmax cross-entropy's forward in one op (its negative): each row's log-probability "
        "of its target, without building the one-hot rows",
    )
)


# ---- PReLU backward -----------------------------------------------------------------------


def prelu_vjp_x_kernel(x, alpha, g):
    """PReLU's x cotangent: g where x > 0, alpha * g elsewhere."""
    return np.where(x > 0, g, alpha * g)


def prelu_vjp_alpha_kernel(x, g, axis, lead):
    """PReLU's alpha cotangent g * x (where x <= 0), summed over `axis` (kept as size 1),
    then the first `lead` axes dropped: sum_to alpha's shape."""
    masked = np.where(x > 0, 0, g * x)  # not a reduction's where=: it branches per element
    if axis == tuple(range(lead)):  # only leading axes summed (a batch): nothing to reshape
        return np.sum(masked, axis=axis)
    total = np.sum(masked, axis=axis, keepdims=True)
    return total.reshape(total.shape[lead:])


def _prelu_x_infer(attrs, x: Node, alpha: Node, g: Node):
    return broadcast_shapes(x.shape, alpha.shape, g.shape), result_dtype(x, alpha, g)


def _prelu_alpha_attrs(attrs, x: Node, g: Node) -> dict:
    """From the target `shape` (sum_to's spelling) to the axes summed and the axes dropped."""
    full = broadcast_shapes(x.shape, g.shape)
    if "shape" not in attrs:  # stored form: check it fits these inputs
        if "axis" not in attrs or not isinstance(attrs.get("lead"), (int, np.integer)):
            raise ShapeError("give shape= (alpha's shape), or the stored axis= and an int lead=")
        axis, lead = normalize_axis(tuple(attrs["axis"]), len(full)), int(attrs["lead"])
        if not 0 <= lead <= len(full) or any(full[i] != 1 and i not in axis for i in range(lead)):
            raise ShapeError(f"cannot drop the first {lead} axes of {full} (summed: {axis})")
        return {"axis": axis, "lead": lead}
    shape = tuple(attrs["shape"])
    if len(shape) > len(full) or broadcast_shapes(full, shape) != full:
        raise ShapeError(f"cannot sum {full} down to {shape}")
    axis, lead = sum_to_axes(full, shape)
    return {"axis": axis, "lead": lead}


def _prelu_alpha_infer(attrs, x: Node, g: Node):
    full = broadcast_shapes(x.shape, g.shape)
    kept = tuple(1 if i in attrs["axis"] else d for i, d in enumerate(full))
    return kept[attrs["lead"] :], result_dtype(x, g)


def _negative(n: Node) -> Node:
    return F.less_equal(n.inputs[0], 0.0)


register(
    OpDef(
        "prelu_vjp_x",
        3,
        _prelu_x_infer,
        kernel=prelu_vjp_x_kernel,
        decompose=lambda n: F.where(first_positive(n), n.inputs[2], n.inputs[1] * n.inputs[2]),
        vjp=(
            None,
            lambda c, n: F.where(first_positive(n), 0.0, c * n.inputs[2]),
            lambda c, n: F.where(first_positive(n), c, c * n.inputs[1]),
        ),
        jvp=(
            None,
            lambda t, n: F.where(first_positive(n), 0.0, t * n.inputs[2]),
            lambda t, n: F.where(first_positive(n), t, t * n.inputs[1]),
        ),
        sympy=scalar_sympy(lambda x, a, g: where_sympy(x > 0, g, a * g)),
        kink=lambda x, a, g: x,
        label="prelu'(x)",
        elementwise=True,
        flops=3,
        samples=lambda rng: [
            ((rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))), {})
        ],
        doc="PReLU's x cotangent in one where; its derivative in x is zero away from 0",
    )
)


def _alpha_parts(n: Node) -> Node:
    """prelu_vjp_alpha_kernel's steps as ops, for lowering."""
    x, g = n.inputs
    masked = F.where(first_positive(n), 0.0, g * x)
    if n.attrs["axis"] == tuple(range(n.attrs["lead"])):
        return F.sum(masked, axis=n.attrs["axis"])
    return drop_leading(F.sum(masked, axis=n.attrs["axis"], keepdims=True), n.attrs["lead"])


def _alpha_samples(rng):
    x, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    return [
        ((x, g), {"axis": (0,), "lead": 1}),
        ((x, g), {"axis": (), "lead": 0}),
        ((x, g), {"axis": (0,), "lead": 0}),
    ]


def _alpha_sympy(x, g, axis, lead):
    total = np.sum(
        scalar_sympy(lambda a, b: where_sympy(a > 0, 0, b * a))(x, g), axis=axis, keepdims=True
    )
    total = np.asarray(total, dtype=object)  # a 0-d sum comes back as a bare expression
    return total.reshape(total.shape[lead:])


register(
    OpDef(
        "prelu_vjp_alpha",
        2,
        _prelu_alpha_infer,
        kernel=prelu_vjp_alpha_kernel,
        decompose=_alpha_parts,
        normalize=_prelu_alpha_attrs,
        vjp=(
            lambda c, n: F.where(_negative(n), n.inputs[1] * c, 0.0),
            lambda c, n: F.where(_negative(n), n.inputs[0] * c, 0.0),
        ),
        jvp=(
            lambda t, n: F.sum_to(F.where(_negative(n), n.inputs[1] * t, 0.0), shape=n.shape),
            lambda t, n: F.sum_to(F.where(_negative(n), n.inputs[0] * t, 0.0), shape=n.shape),
        ),
        sympy=_alpha_sympy,
        kink=lambda x, g: x,
        label=lambda n: f"prelu'(alpha){list(n.shape)}",
        runtime_shape=BROADCAST,  # a kept None axis keeps the input's size
        # x and g broadcast before the sum
        flops=lambda n: 4 * size(np.broadcast_shapes(*(x.shape for x in n.inputs))),
        samples=_alpha_samples,
        doc="PReLU's alpha cotangent in one where, summed to alpha's shape",
    )
)
