"""Optimizer updates as generated source: SGD, SGD with momentum, Adam.

Each update is written in place (`out=`) into the param and its slots. When the gradient
is a temporary of the step that nothing reads afterwards, it doubles as scratch space, so
an SGD update is two passes over the param and allocates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GraphError
from ..ir import Node, site_as
from ..ops.registry import F, lift


@dataclass(frozen=True)
class Optimizer:
    """An optimizer's name, its per-param slots and its default hyper-parameters."""

    name: str
    slots: tuple[str, ...]
    defaults: dict


OPTIMIZERS = {
    "sgd": Optimizer("sgd", (), {"lr": 0.1}),
    "momentum": Optimizer("momentum", ("velocity",), {"lr": 0.05, "momentum": 0.9}),
    "adam": Optimizer("adam", ("m", "v"), {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
}


def get(name: str, **hyper) -> tuple[Optimizer, dict]:
    """The optimizer called `name` and its hyper-parameters (defaults overridden by `hyper`)."""
    if name not in OPTIMIZERS:
        raise GraphError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    opt = OPTIMIZERS[name]
    unknown = set(hyper) - set(opt.defaults)
    if unknown:
        raise GraphError(
            f"optimizer {name!r} has no hyper-parameter(s) "
            f"{', '.join(sorted(unknown))}; it takes {', '.join(opt.defaults)}"
        )
    values = dict(opt.defaults)
    for key, value in hyper.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
            raise GraphError(f"optimizer {name!r}: {key} must be a finite number, got {value!r}")
        low, high = RANGES[key]
        if not (low < value if key in ("lr", "eps") else low <= value < high):
            wanted = "positive" if key in ("lr", "eps") else f"in [{low}, {high})"
            raise GraphError(f"optimizer {name!r}: {key} must be {wanted}, got {value!r}")
        values[key] = float(value)
    return opt, values


# the hyper-parameters' open ranges: a step must go downhill, a decay must decay
RANGES = {"lr": (0, None), "eps": (0, None), "momentum": (0, 1), "beta1": (0, 1), "beta2": (0, 1)}


def split_decay(grad: Node, param: Node) -> tuple[Node | None, Node]:
    """(k, rest) with grad = k * param + rest, k a graph node of one element (an L2
    penalty's gradient plus the data term); (None, grad) when there is no such term."""
    if grad.op == "add":
        for term, rest in ((grad.inputs[0], grad.inputs[1]), (grad.inputs[1], grad.inputs[0])):
            with site_as(grad.site):  # k's nodes cite the line of the gradient they came from
                k = _coefficient(term, param)
            if k is not None and rest.shape == param.shape and rest.dtype == param.dtype:
                return k, rest
    return None, grad


def _coefficient(node: Node, param: Node) -> Node | None:
    """k (one element) when `node` is k * param built from products and sums; else None.

    Iterative and memoized: a gradient that reuses one param in every link of a long chain
    nests thousands of products, and shares its sub-sums."""
    found: dict[int, Node | None] = {}
    factored: dict[int, list[tuple[Node, Node]]] = {}  # mul id -> (one-element factor, rest)
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if n.id in found:
            continue
        if n is param or n.shape != param.shape or n.op not in ("mul", "add"):
            found[n.id] = lift(1.0, param) if n is param else None
            continue
        if n.op == "mul" and n.id not in factored:
            pairs = [(c, other) for c, other in (n.inputs, n.inputs[::-1])]
            factored[n.id] = [(f, other) for c, other in pairs if (f := _one_value(c)) is not None]
        parts = [other for _, other in factored[n.id]] if n.op == "mul" else list(n.inputs)
        if not ready:
            stack.append((n, True))
            stack.extend((x, False) for x in parts if x.id not in found)
            continue
        if n.op == "mul":
            k = next(((f, found[o.id]) for f, o in factored[n.id] if found[o.id] is not None), None)
            found[n.id] = None if k is None else F.mul(*k)
        else:
            ks = [found[x.id] for x in parts]
            found[n.id] = None if None in ks else F.add(ks[0], ks[1])
    return found[node.id]


def _one_value(node: Node) -> Node | None:
    """`node` as a one-element factor: itself if it has one element, a scalar const if it
    is a const repeating one value (folding may have broadcast a scalar); else None."""
    if node.op == "const":
        value = node.attrs["value"]
        if value.size and np.all(value == value.flat[0]):
            return lift(np.asarray(value.flat[0], dtype=value.dtype))
        return None
    if None not in node.shape and int(np.prod(node.shape)) == 1:
        while node.op in ("expand_dims", "reshape") and node.inputs[0].shape in ((), (1,)):
            node = node.inputs[0]  # the scalar that was only given size-1 axes
        return F.reshape(node, shape=()) if node.shape else node
    return None


def prologue(opt: Optimizer, hyper: dict, lr: str, step: str) -> list[str]:
    """Statements run once per step before the per-param updates (Adam's bias correction)."""
    if opt.name != "adam":
        return []
    b1, b2 = hyper["beta1"], hyper["beta2"]
    return [
        f"lr_t = {lr} * (1.0 - {b2!r} ** {step}) ** 0.5 / (1.0 - {b1!r} ** {step})"
        "  # Adam's bias correction"
    ]


def update(
    opt: Optimizer,
    hyper: dict,
    param: str,
    grad: str,
    slots: list[str],
    lr: str,
    grad_is_scratch: bool,
    decay: str | None = None,
) -> list[str]:
    """Statements updating `param` in place from `grad` (and the slots, in order).

    SGD's `grad` is already the step (the backward pass carried lr instead of 1), and
    `decay`, when given, names k with step = k * param + `grad`: the L2 term is applied
    as one scaling of the param instead of passes over a gradient array.
    """
    if opt.name == "sgd":
        lines = (
            [f"np.multiply({param}, 1.0 - {decay}, out={param})  # the L2 term of the step"]
            if decay
            else []
        )
        return lines + [f"np.subtract({param}, {grad}, out={param})"]
    if decay:
        raise GraphError(f"{opt.name}: only SGD folds the L2 term into the update")
    if opt.name == "momentum":
        (velocity,) = slots
        lines = [
            f"np.multiply({velocity}, {hyper['momentum']!r}, out={velocity})",
            f"np.add({velocity}, {grad}, out={velocity})",
        ]
        if grad_is_scratch:
            return lines + [
                f"np.multiply({velocity}, {lr}, out={grad})",
                f"np.subtract({param}, {grad}, out={param})",
            ]
        return lines + [f"{param} -= {lr} * {velocity}"]
    m, v = slots
    b1, b2, eps = hyper["beta1"], hyper["beta2"], hyper["eps"]
    lines = [
        f"np.multiply({m}, {b1!r}, out={m})",
        f"{m} += {1.0 - b1!r} * {grad}",
        f"np.multiply({v}, {b2!r}, out={v})",
    ]
    if grad_is_scratch:
        lines += [
            f"np.multiply({grad}, {grad}, out={grad})",
            f"{v} += {1.0 - b2!r} * {grad}",
            f"np.sqrt({v}, out={grad})",
            f"np.add({grad}, {eps!r}, out={grad})",
            f"np.divide({m}, {grad}, out={grad})",
            f"np.multiply({grad}, lr_t, out={grad})",
            f"np.subtract({param}, {grad}, out={param})",
        ]
    else:
        lines += [
            f"{v} += {1.0 - b2!r} * ({grad} * {grad})",
            f"{param} -= lr_t * {m} / (np.sqrt({v}) + {eps!r})",
        ]
    return lines
