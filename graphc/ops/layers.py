"""Training-mode ops and the layers built on them: batch norm and dropout.

One graph serves training and inference. `select_mode(train, infer)` picks a branch and
`update_state(value, new_state)` carries a running-statistics update; `specialize`
(passes/specialization.py) resolves both for a given mode before a graph is evaluated or
lowered, so no kernel ever sees a mode.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_seed, real_number
from ..errors import GraphError, ShapeError
from ..ir import Node, user_site
from .composite import composite
from .leaves import state
from .reductions import mean
from .registry import (
    BROADCAST,
    F,
    OpDef,
    apply,
    elementwise,
    lift,
    register,
    result_dtype,
    sample_inputs,
)


def _select_infer(attrs, train: Node, infer: Node):
    return elementwise(attrs, train, infer)


def _zeros(g: Node) -> Node:
    # the unused branch's zero must keep g's shape: specialize() may pick it, and the
    # gradient graph downstream sums it to a param's shape
    return F.broadcast_like(0.0, g)


register(
    OpDef(
        "select_mode",
        2,
        _select_infer,
        label="train | eval",
        runtime_shape=BROADCAST,
        linear=(0, 1),
        foldable=False,
        view=True,
        flops=0,
        mode=lambda inputs, training: inputs[0] if training else inputs[1],
        complex_step=True,
        board=lambda train, infer: ("1 in training", "1 in inference"),
        vjp=(lambda g, n: F.select_mode(g, _zeros(g)), lambda g, n: F.select_mode(_zeros(g), g)),
        jvp=(lambda t, n: F.select_mode(t, _zeros(t)), lambda t, n: F.select_mode(_zeros(t), t)),
        doc="the first input in training mode, the second in inference; removed by specialize()",
    )
)


def update_state_kernel(value, new_state, target):
    return value


register(
    OpDef(
        "update_state",
        2,
        lambda attrs, value, new: (value.shape, value.dtype),
        kernel=update_state_kernel,
        label=lambda n: f"update {n.attrs['target']}",
        board=lambda value, new_state: ("1", ""),
        vjp=(lambda g, n: g, None),
        jvp=(lambda t, n: t, None),
        sympy=lambda value, new, target: value,
        decompose=lambda n: n.inputs[0],
        samples=sample_inputs((3, 4), (4,), target="running_mean"),
        runtime_shape=lambda n, value, new: value,
        foldable=False,
        view=True,
        flops=0,
        mode=lambda inputs, training: None if training else inputs[0],
        writes_state=lambda n: (n.attrs["target"], n.inputs[1]),
        # the running statistics it updates come from a batch: batch norm's
        min_batch=(
            2,
            "batch norm in training mode needs at least 2 rows: on one row every feature "
            "normalizes to 0, so the output is beta and the gradients are zero",
        ),
        complex_step=True,
        doc="passes `value` through; in training mode the evaluator stores `new_state` "
        "as the next value of the state leaf named `target`",
    )
)


def dropout_mask_kernel(x, rate, seed):
    """Inverted-dropout mask: 0 with probability `rate`, else 1 / (1 - rate)."""
    keep = np.random.default_rng(seed).random(np.shape(x)) >= rate
    return keep.astype(x.dtype) / (1.0 - rate)


register(
    OpDef(
        "dropout_mask",
        1,
        lambda attrs, x: (x.shape, result_dtype(x)),
        kernel=dropout_mask_kernel,
        helper="dropout_mask",
        array_args=lambda n: ((n.inputs[0],), {"rate": n.attrs["rate"], "seed": n.attrs["seed"]}),
        nondiff=True,
        label=lambda n: f"mask p={n.attrs['rate']}",
        sympy=lambda x, rate, seed: dropout_mask_kernel(np.zeros(np.shape(x)), rate, seed),
        samples=sample_inputs((3, 4), rate=0.5, seed=0),
        runtime_shape=BROADCAST,
        foldable=False,  # a mask as big as x, and only meant for training
        random=True,
        flops=2,
        complex_step=True,
    )
)


def _batch_norm_board(x, gamma, beta, *_, training):
    """Batch norm's derivative as the lecture writes it, for the mode its numbers use: the
    batch statistics depend on x in training; the running ones are constants at inference."""
    sums = f"∂/∂{gamma} = Σ δ·x̂, ∂/∂{beta} = Σ δ (Σ over the batch, δ = upstream)"
    train = (
        f"x̂ = ({x} − batch mean) / σ, σ = √(batch variance + ε)",
        f"∂/∂{x} = {gamma}/σ · (δ − mean δ − x̂ · mean(δ·x̂)), means over the batch",
    )
    infer = (
        f"x̂ = ({x} − running mean) / σ, σ = √(running variance + ε)",
        f"∂/∂{x} = {gamma}/σ · δ (the running statistics are constants)",
    )
    if training is None:
        return (*train, sums, "at inference: " + infer[1])
    return (*(train if training else infer), sums)


def _named(node: Node, name: str) -> Node:
    """`node` under a name that says what it is (generated code and pictures call it so)."""
    return apply(node.op, *node.inputs, _name=name, _scope=node.scope, **dict(node.attrs))


@composite(label="batch norm", board=_batch_norm_board)
def batch_norm(
    x, gamma, beta, eps: float = 1e-5, momentum: float = 0.9, name: str | None = None
) -> Node:
    """Batch normalization over every axis but the last (features).

    Training mode normalizes with the batch mean and (biased) variance and updates the
    running statistics: running = momentum * running + (1 - momentum) * batch. Inference
    mode normalizes with the running statistics.
    """
    x = lift(x)
    gamma, beta = lift(gamma, x), lift(beta, x)
    features = x.shape[-1:]
    if x.ndim < 2 or features[0] is None:
        raise ShapeError(
            f"{user_site()}: batch_norm needs (batch, ..., features) with a known "
            f"feature size, got {x.shape}"
        )
    for what, p in (("gamma", gamma), ("beta", beta)):
        if p.shape not in ((), features):
            raise ShapeError(
                f"{user_site()}: batch_norm: {what} has shape {p.shape}, "
                f"expected {features} for input {x.shape}"
            )
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
        raise GraphError(f"{user_site()}: batch_norm eps must be a positive number, got {eps!r}")
    if not 0.0 <= momentum < 1.0:
        raise GraphError(f"{user_site()}: batch_norm momentum must be in [0, 1), got {momentum}")
    name = name or (gamma.name if gamma.op == "param" else "batch_norm")
    axes = tuple(range(x.ndim - 1))
    running_mean = state(f"{name}.running_mean", features, 0.0, x.dtype)
    running_var = state(f"{name}.running_var", features, 1.0, x.dtype)

    batch_mean = _named(mean(x, axis=axes, keepdims=True), "batch_mean")
    centered = x - batch_mean
    batch_var = _named(mean(centered * centered, axis=axes, keepdims=True), "batch_var")
    train = centered / F.sqrt(batch_var + eps) * gamma + beta
    for running, batch in ((running_mean, batch_mean), (running_var, batch_var)):
        new = momentum * running + (1.0 - momentum) * F.reshape(batch, shape=features)
        train = F.update_state(train, new, target=running.name)
    infer = (x - running_mean) / F.sqrt(running_var + eps) * gamma + beta
    return F.select_mode(train, infer)


def _dropout_board(x, rate, *_, training):
    """Dropout's derivative in the mode its numbers use: the mask in training, 1 at
    inference (where dropout is the identity)."""
    train = f"∂/∂{x} = δ · mask: 0 where a unit is dropped, 1/(1 − {rate}) where it is kept"
    infer = f"∂/∂{x} = δ (dropout is the identity at inference)"
    return {True: (train,), False: (infer,)}.get(training, (train, infer))


@composite(label="dropout", board=_dropout_board)
def dropout(x, rate: float, seed: int = 0) -> Node:
    """Inverted dropout: in training, zero each unit with probability `rate` and scale the
    rest by 1 / (1 - rate) (a seeded mask); at inference, the identity."""
    rate = real_number(rate, f"{user_site()}: dropout rate")
    if not 0.0 <= rate < 1.0:
        raise GraphError(f"{user_site()}: dropout rate must be in [0, 1), got {rate!r}")
    seed = check_seed(seed, f"{user_site()}: dropout")
    if rate == 0:
        return x
    mask = apply("dropout_mask", x, rate=rate, seed=seed)
    return F.select_mode(x * mask, x)
