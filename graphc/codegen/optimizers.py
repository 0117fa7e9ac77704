"""Optimizers, each defined once as graph ops: given a param's gradient (and its slots),
`descent` builds the step the param moves down by (param <- param - step) and the slots'
new values with the graph builders users call, as optax writes an update as ordinary
traced code. The training program (program.py) adds them to the training step's graph, so
every renderer writes the same update: the fast NumPy renderer in place into the param and
its slots (they are donated to the step's plan), the readable one as its formula, the JAX
one inside the jitted step whose params and state are donated.

Adding an optimizer is one entry of OPTIMIZERS: its slots, its hyper-parameters with their
defaults (with `ranges` for those RANGES does not know), and `descent`; gc.export, every
renderer and the command line (`--optimizer NAME`, a flag per hyper-parameter) pick it up
(tests/test_optimizer_recipe.py adds one this way). An optimizer whose learning rate changes
with the step count adds a function to step_size.py and names it in `step_size`.
An update option (a proximal step after the descent, a clipped gradient) is a few graph
ops in `descent` or around it in `update`, and every renderer picks it up.

The proximal L1 step (`proximal_l1=True` of gc.export and compile_trainer) is such an
option: for a param with L1 terms lam * gc.l1(param) in the loss (`l1_weights`), `update`
takes their subgradient lam * sign(param) out of the gradient before the descent and, after
it, soft-thresholds the param by lr * lam: sign(w) * max(|w| - lr * lam, 0), so a weight
the data does not hold away from zero lands on exactly 0 (a subgradient step jumps over it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError
from ..ir import Node, site_as, topological_order
from ..ops.leaves import input as input_leaf
from ..ops.registry import F, lift


@dataclass(frozen=True)
class Optimizer:
    """An optimizer: its per-param slots, default hyper-parameters, its step as graph ops.

    `descent(grad, slots, lr, hyper)` returns (step, new slots by name): graph nodes, with
    `lr` a scalar graph input holding this step's learning rate. `linear` says the step is
    lr * grad, so a backward pass seeded with lr instead of 1 yields it directly.
    `step_size` names a function of step_size.py giving the step's learning rate from the
    step count (Adam's bias corrections); `about` is the formula, for docstrings."""

    name: str
    slots: tuple[str, ...]
    defaults: dict
    descent: Callable
    about: str
    linear: bool = False
    step_size: str | None = None
    ranges: dict = field(default_factory=dict)  # (low, high) of hyper-parameters not in RANGES


def _sgd(grad, slots, lr, h):
    return lr * grad, {}


def _momentum(grad, slots, lr, h):
    velocity = slots["velocity"] * h["momentum"] + grad
    return velocity * lr, {"velocity": velocity}


def _adam(grad, slots, lr, h):
    m = slots["m"] * h["beta1"] + (1.0 - h["beta1"]) * grad  # running mean of the gradient
    v = slots["v"] * h["beta2"] + (1.0 - h["beta2"]) * (grad * grad)  # and of its square
    return lr * m / (F.sqrt(v) + h["eps"]), {"m": m, "v": v}


OPTIMIZERS = {
    "sgd": Optimizer(
        "sgd", (), {"lr": 0.1}, _sgd, "Gradient descent: W <- W - lr * dL/dW", linear=True
    ),
    "momentum": Optimizer(
        "momentum",
        ("velocity",),
        {"lr": 0.05, "momentum": 0.9},
        _momentum,
        "Heavy-ball momentum: v <- momentum * v + dL/dW, then W <- W - lr * v (as "
        "PyTorch's SGD with momentum; some texts put lr inside v instead)",
    ),
    "adam": Optimizer(
        "adam",
        ("m", "v"),
        {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        _adam,
        "Adam (Kingma & Ba, 2015) in their epsilon-hat form: m and v are running means "
        "of the gradient and its square, the bias corrections are folded into the step's "
        "lr (adam_step_size) and eps is added to sqrt(v) after that, so W <- W - lr_t * m "
        "/ (sqrt(v) + eps). PyTorch adds eps to sqrt(v_hat) instead, which differs while "
        "the corrections are large (the first steps)",
        step_size="adam_step_size",
    ),
}


@dataclass
class Update:
    """One param's update as graph nodes: its new value and its slots' new values."""

    param: Node
    slots: dict[str, Node]


def slot_leaves(opt: Optimizer, param: Node) -> dict[str, Node]:
    """The graph inputs holding `param`'s optimizer slots (shaped like the param)."""
    return {s: input_leaf(f"{param.name}.{s}", param.shape, param.dtype) for s in opt.slots}


def update(
    opt: Optimizer,
    hyper: dict,
    param: Node,
    grad: Node,
    slots: dict[str, Node],
    lr: Node,
    decay: Node | None = None,
    l1: float | None = None,
    rate: Node | None = None,
) -> Update:
    """`param`'s update from `grad` as graph nodes. With `decay` k (SGD only, whose grad is
    then the step already: the backward pass carried lr), the step is k * param + grad and
    the L2 term becomes one scaling of the param: param * (1 - k) - grad. With `l1` (the
    weight lam of the param's L1 terms) the step is proximal: the gradient without lam *
    sign(param), then a soft threshold by rate * lam (`rate`: the step's learning rate)."""
    if l1:
        scale = 1.0 if lr is not None else rate  # a folded gradient arrives times lr
        grad = grad - scale * l1 * F.sign(param)
    if decay is not None:
        new = param * (1.0 - decay) - grad
        return Update(soft_threshold(new, rate * l1) if l1 else new, {})
    step, new_slots = (grad, {}) if lr is None else opt.descent(grad, slots, lr, hyper)
    new = param - step
    return Update(soft_threshold(new, rate * l1) if l1 else new, new_slots)


def soft_threshold(w: Node, amount: Node) -> Node:
    """The proximal step of amount * |w|: every weight moved `amount` towards 0, stopping
    at 0 (sign(w) * max(|w| - amount, 0))."""
    return F.sign(w) * F.maximum(F.abs(w) - amount, 0.0)


def l1_weights(loss: Node, params: list[Node]) -> dict[int, float]:
    """param id -> lam, the weight with which the param's L1 terms (gc.l1(param)) enter the
    loss (their summed d loss / d l1); an error when there is none or it is not a number
    fixed when the module is built."""
    from ..diff import grad  # the optimizers sit below differentiation
    from ..evaluation import evaluate

    ids = {p.id for p in params}
    terms = [
        n
        for n in topological_order(loss)
        if n.op == "sum"
        and (n.scope or "").split("/")[-1] == "l1"
        and n.inputs[0].op == "abs"
        and n.inputs[0].inputs[0].id in ids
    ]
    if not terms:
        raise GraphError(
            "proximal_l1=True needs an L1 penalty on a param in the loss (strength * "
            "gc.l1(W)); this loss has none"
        )
    weights: dict[int, float] = {}
    for term, weight in zip(terms, grad(loss, terms)):
        try:
            lam = float(evaluate(weight, {}))
        except GraphError:
            raise GraphError(
                f"proximal_l1=True: the weight of the L1 term on "
                f"{term.inputs[0].inputs[0].name} must be a number, not depend on the data"
            ) from None
        if not lam > 0:
            raise GraphError(f"proximal_l1=True: an L1 term must have a positive weight, got {lam}")
        param = term.inputs[0].inputs[0].id
        weights[param] = weights.get(param, 0.0) + lam
    return weights


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
        low, high = opt.ranges.get(key) or RANGES[key]
        if not (low < value if key in ("lr", "eps") else low <= value < high):
            wanted = "positive" if key in ("lr", "eps") else f"in [{low}, {high})"
            raise GraphError(f"optimizer {name!r}: {key} must be {wanted}, got {value!r}")
        values[key] = float(value)
    return opt, values


def hyper_parameters() -> dict[str, list[tuple[str, float]]]:
    """Every optimizer's hyper-parameters but lr: name -> [(optimizer, default), ...] (the
    command line offers a flag for each)."""
    found: dict[str, list[tuple[str, float]]] = {}
    for opt in OPTIMIZERS.values():
        for key, value in opt.defaults.items():
            if key != "lr":
                found.setdefault(key, []).append((opt.name, value))
    return found


# the hyper-parameters' ranges, (low, high): lr and eps are positive (high None), the
# others in [low, high): a step must go downhill, a decay must decay
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
