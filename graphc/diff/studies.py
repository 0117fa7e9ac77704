"""The lecture's claims about the four methods, measured: numeric error against the step
(`eps_sweep`), forward-mode cost against the parameter count (`forward_cost`) and symbolic
expression swell against depth (`symbolic_swell`). Each returns the plot-ready dict that
`visual` draws (shapes in notes/common.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate, init_params, params
from ..ir import Node, as_list
from ..ops.elementwise import tanh
from ..ops.leaves import input, param
from ..ops.losses import mse
from ..ops.reductions import sum as reduce_sum
from .forward import forward_jvp_count
from .gradient import grad
from .numeric import Program, check_number, check_scheme, gradient_of
from .symbolic import DEFAULT_MAX_OPS, symbolic_swell


def eps_sweep(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping[str, Any],
    eps: Sequence[float] | None = None,
    schemes: Sequence[str] = ("forward", "central", "five_point"),
    training: bool = False,
) -> dict:
    """Max absolute error of the numeric gradient against reverse mode, for each step in
    `eps` (default: 1e-1 down to about 10x machine epsilon of the graph's dtype, two per
    decade) and each scheme.

    Plotted on log-log axes the curves are V-shaped: truncation error falls as eps**order
    on the right, round-off grows as machine-eps / eps on the left.
    """
    targets = as_list(wrt)
    for scheme in schemes:
        check_scheme(scheme, None)
    program = Program(y, targets, values, training)
    if eps is None:
        lowest = int(np.floor(np.log10(program.eps))) + 1
        eps = np.logspace(-1, lowest, 2 * (-1 - lowest) + 1)
    if np.ndim(eps) != 1:
        raise GraphError(f"eps must be a list of steps, got {eps!r}")
    for e in eps:
        check_number(e, "eps")  # a positive, finite step
    eps = [float(e) for e in eps]
    reference = evaluate(grad(y, targets, mode="reverse"), values, training=training)
    errors: dict[str, list[float]] = {}
    for scheme in schemes:
        errors[scheme] = [
            max(
                float(np.max(np.abs(np.asarray(g, np.float64) - r), initial=0.0))
                for g, r in zip(gradient_of(program, scheme, e), reference)
            )
            for e in eps
        ]
    dtype = np.result_type(y.dtype, *(t.dtype for t in targets)).name
    return {"eps": eps, "error": errors, "dtype": dtype}


def dense_layer(
    n_in: int, batch: int = 8, n_out: int = 3, seed: int = 0
) -> tuple[Node, dict[str, np.ndarray]]:
    """A one-layer tanh network with n_in * n_out + n_out params and its values: the model
    the cost studies grow."""
    x, t = input("x", (None, n_in)), input("t", (None, n_out))
    W, b = param("W", (n_in, n_out), init="xavier_normal"), param("b", (n_out,), init=0.1)
    loss = mse(tanh(x @ W + b), t)
    rng = np.random.default_rng(seed)
    values = init_params(loss, seed) | {
        "x": rng.normal(size=(batch, n_in)),
        "t": rng.normal(size=(batch, n_out)),
    }
    return loss, values


def _timed_gradient(loss: Node, wrt: list[Node], values: dict, mode: str) -> float:
    """Seconds to build and evaluate the gradient in `mode`."""
    start = time.perf_counter()
    options = {"values": values} if mode == "forward" else {}
    evaluate(grad(loss, wrt, mode=mode, **options), values)
    return time.perf_counter() - start


def forward_cost(
    sizes: Sequence[int] = (2, 4, 8, 16, 32),
    build: Callable[[int], tuple[Node, dict]] = dense_layer,
) -> dict:
    """Forward against reverse mode as the parameter count grows.

    For each size, `build(size)` gives (loss, values); the gradient with respect to every
    param is built and evaluated both ways. Forward mode needs one JVP (one pass over the
    graph) per parameter element; reverse mode needs one backward pass.
    """
    out: dict[str, list] = {
        "n_params": [],
        "forward_evals": [],
        "reverse_evals": [],
        "forward_seconds": [],
        "reverse_seconds": [],
    }
    for size in sizes:
        loss, values = build(size)
        wrt = params(loss)
        if not wrt:
            raise GraphError(f"forward_cost: the model built for size {size} has no params")
        for mode in ("forward", "reverse"):
            out[f"{mode}_seconds"].append(_timed_gradient(loss, wrt, values, mode))
        out["n_params"].append(int(sum(np.size(values[p.name]) for p in wrt)))
        out["forward_evals"].append(int(forward_jvp_count(loss, wrt, values=values)))
        out["reverse_evals"].append(1)
    return out


def tanh_chain(
    depth: int, width: int = 2, batch: int = 1, seed: int = 0
) -> tuple[Node, dict[str, np.ndarray]]:
    """`depth` tanh layers of width `width` summed to a scalar, with values: the model
    whose symbolic derivative swells as it deepens."""
    h = input("x", (None, width))
    for i in range(depth):
        h = tanh(h @ param(f"W{i + 1}", (width, width), init="xavier_normal"))
    loss = reduce_sum(h)
    values = init_params(loss, seed) | {
        "x": np.random.default_rng(seed).normal(size=(batch, width))
    }
    return loss, values


def swell_study(
    depths: Sequence[int] = (1, 2, 3, 4, 5),
    build: Callable[[int], tuple[Node, dict]] = tanh_chain,
    max_ops: int | None = None,
) -> dict:
    """Symbolic expression swell as the network deepens: the operation count of the
    derivative with respect to every param, as trees ("ops") and after sympy.cse
    ("ops_cse"), for each depth."""
    out: dict[str, list] = {"depth": [], "ops": [], "ops_cse": []}
    for depth in depths:
        loss, values = build(depth)
        sizes = symbolic_swell(
            loss, params(loss), values, max_ops=DEFAULT_MAX_OPS if max_ops is None else max_ops
        )
        out["depth"].append(int(depth))
        out["ops"].append(int(sizes["ops"]))
        out["ops_cse"].append(int(sizes["ops_cse"]))
    return out
