"""Optimizer updates as generated source: SGD, SGD with momentum, Adam.

Each update is written in place (`out=`) into the param and its slots. When the gradient
is a temporary of the step that nothing reads afterwards, it doubles as scratch space, so
an SGD update is two passes over the param and allocates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GraphError
from ..ir import Node


@dataclass(frozen=True)
class Optimizer:
    """An optimizer's name, its per-param slots and its default hyper-parameters."""

    name: str
    slots: tuple[str, ...]
    defaults: dict


OPTIMIZERS = {
    "sgd": Optimizer("sgd", (), {"lr": 0.1}),
    "momentum": Optimizer("momentum", ("velocity",), {"lr": 0.05, "momentum": 0.9}),
    "adam": Optimizer("adam", ("m", "v"), {"lr": 0.001, "beta1": 0.9, "beta2": 0.999,
                                          "eps": 1e-8}),
}


def get(name: str, **hyper) -> tuple[Optimizer, dict]:
    """The optimizer called `name` and its hyper-parameters (defaults overridden by `hyper`)."""
    if name not in OPTIMIZERS:
        raise GraphError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    opt = OPTIMIZERS[name]
    unknown = set(hyper) - set(opt.defaults)
    if unknown:
        raise GraphError(f"optimizer {name!r} has no hyper-parameter(s) "
                         f"{', '.join(sorted(unknown))}; it takes {', '.join(opt.defaults)}")
    values = dict(opt.defaults)
    for key, value in hyper.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not np.isfinite(value):
            raise GraphError(f"optimizer {name!r}: {key} must be a finite number, got {value!r}")
        values[key] = float(value)
    return opt, values


def split_decay(grad: Node, param: Node) -> tuple[float, Node]:
    """(k, rest) with grad = k * param + rest exactly as graphs (an L2 penalty's gradient
    plus the data term); (0.0, grad) when the gradient has no such term."""
    if grad.op == "add":
        for term, rest in ((grad.inputs[0], grad.inputs[1]), (grad.inputs[1], grad.inputs[0])):
            k = _multiple_of(term, param)
            if k is not None and rest.shape == param.shape and rest.dtype == param.dtype:
                return k, rest
    return 0.0, grad


def _multiple_of(node: Node, param: Node) -> float | None:
    """k when `node` is k * param built from muls by scalar consts and sums; else None."""
    if node is param:
        return 1.0
    if node.op == "mul":
        for c, other in (node.inputs, node.inputs[::-1]):
            value = c.attrs["value"] if c.op == "const" else None
            # a const of one repeated value (constant folding may have broadcast a scalar)
            if value is not None and value.size and np.all(value == value.flat[0]) \
                    and node.shape == param.shape:
                k = _multiple_of(other, param)
                return None if k is None else float(value.flat[0]) * k
    if node.op == "add":
        ks = [_multiple_of(x, param) for x in node.inputs]
        return None if None in ks else ks[0] + ks[1]
    return None


def prologue(opt: Optimizer, hyper: dict, lr: str, step: str) -> list[str]:
    """Statements run once per step before the per-param updates (Adam's bias correction)."""
    if opt.name != "adam":
        return []
    b1, b2 = hyper["beta1"], hyper["beta2"]
    return [f"lr_t = {lr} * (1.0 - {b2!r} ** {step}) ** 0.5 / (1.0 - {b1!r} ** {step})"
            "  # Adam's bias correction"]


def update(opt: Optimizer, hyper: dict, param: str, grad: str, slots: list[str], lr: str,
           grad_is_scratch: bool, decay: float = 0.0) -> list[str]:
    """Statements updating `param` in place from `grad` (and the slots, in order).

    `decay` (SGD only) is a k such that the gradient is k * param + `grad`: the L2 term
    is then applied as one scaling of the param instead of two passes over its gradient.
    """
    if opt.name == "sgd":
        lines = [f"np.multiply({param}, 1.0 - {lr} * {decay!r}, out={param})"
                 "  # the gradient's L2 term, folded in"] if decay else []
        if grad_is_scratch:
            return lines + [f"np.multiply({grad}, {lr}, out={grad})",
                            f"np.subtract({param}, {grad}, out={param})"]
        return lines + [f"{param} -= {lr} * {grad}"]
    if decay:
        raise GraphError(f"{opt.name}: only SGD folds the L2 term into the update")
    if opt.name == "momentum":
        (velocity,) = slots
        lines = [f"np.multiply({velocity}, {hyper['momentum']!r}, out={velocity})",
                 f"np.add({velocity}, {grad}, out={velocity})"]
        if grad_is_scratch:
            return lines + [f"np.multiply({velocity}, {lr}, out={grad})",
                            f"np.subtract({param}, {grad}, out={param})"]
        return lines + [f"{param} -= {lr} * {velocity}"]
    m, v = slots
    b1, b2, eps = hyper["beta1"], hyper["beta2"], hyper["eps"]
    lines = [f"np.multiply({m}, {b1!r}, out={m})",
             f"{m} += {1.0 - b1!r} * {grad}",
             f"np.multiply({v}, {b2!r}, out={v})"]
    if grad_is_scratch:
        lines += [f"np.multiply({grad}, {grad}, out={grad})",
                  f"{v} += {1.0 - b2!r} * {grad}",
                  f"np.sqrt({v}, out={grad})",
                  f"np.add({grad}, {eps!r}, out={grad})",
                  f"np.divide({m}, {grad}, out={grad})",
                  f"np.multiply({grad}, lr_t, out={grad})",
                  f"np.subtract({param}, {grad}, out={param})"]
    else:
        lines += [f"{v} += {1.0 - b2!r} * ({grad} * {grad})",
                  f"{param} -= lr_t * {m} / (np.sqrt({v}) + {eps!r})"]
    return lines
