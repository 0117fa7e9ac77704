"""The training program: the graphs every exported module computes, built once and
independent of the target (fast NumPy, readable NumPy, JAX render them).

- `train_step`: forward, gradient, running statistics and the optimizer's update
  (optimizers.py) in one graph whose new params, slots and statistics are donated;
- `loss_and_grads`: the loss and the gradients (and the new running statistics);
- `evaluate`: the loss and the predictions in inference mode;
- `forward`: the predictions (or the loss) in inference mode, from the leaves they need;
- `monte_carlo`: the predictions with fresh dropout masks, batch norm in inference mode.

Each graph is specialized for its mode and optimized (lowering.prepare); planning
decomposes it. Following the optimizer from `gc.export` to a rendered line: build_*.py
pass it here once, `train_step` adds its ops to the graph, the plan schedules them and a
renderer writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diff import grad, vjp
from ..ir import Node, leaves, site_as, topological_order
from ..montecarlo import mc_graph
from ..ops.leaves import input as input_leaf
from ..passes.specialization import specialize
from . import optimizers
from .module_parts import Signature
from .prepare import prepare


@dataclass
class Graph:
    """One function of the program: its outputs, the leaves it reads (in argument order),
    a suggested name per output and, per output, the leaf whose memory it replaces."""

    outputs: list[Node]
    leaves: list[Node]
    names: list[str | None] = field(default_factory=list)
    donate: list[Node | None] = field(default_factory=list)
    stat_targets: list[str] = field(default_factory=list)  # the last outputs' statistics


@dataclass
class TrainStep(Graph):
    """The training step: outputs loss, new params, new slots, new running statistics."""

    lr: Node | None = None  # the step's learning rate, a scalar input
    slots: dict[int, dict[str, Node]] = field(default_factory=dict)  # param id -> slot leaves


def _training(loss: Node) -> tuple[Node, dict[str, Node]]:
    """The loss in training mode and the running statistics' new values by name."""
    (loss_t,) = specialize([loss], True)
    updates = {
        n.attrs["target"]: n.inputs[1] for n in topological_order(loss_t) if n.op == "update_state"
    }
    return loss_t, updates


def train_step(
    sig: Signature,
    loss: Node,
    opt: optimizers.Optimizer,
    hyper: dict,
    fold_lr: bool,
    proximal_l1: bool = False,
) -> TrainStep:
    """The training step's graph. With `fold_lr` and an optimizer whose step is lr * grad,
    the backward pass carries lr instead of 1, so each gradient arrives as its step, and an
    L2 term k * param of it becomes one scaling of the param (fewer passes over arrays).
    With `proximal_l1`, L1 terms take the proximal step (optimizers.update)."""
    l1 = optimizers.l1_weights(loss, sig.params) if proximal_l1 else {}
    loss_t, updates = _training(loss)
    lr = input_leaf("graphc.lr", (), loss.dtype)
    folded = fold_lr and opt.linear
    grads = vjp([loss_t], [lr], sig.params) if folded else grad(loss_t, sig.params)
    graph = prepare([loss_t, *grads, *updates.values()], training=True)
    loss_n, grad_n, new_stats = graph[0], graph[1 : 1 + len(grads)], graph[1 + len(grads) :]
    decay = [None] * len(grad_n)
    if folded:  # keep only the data term; the L2 term becomes one scaling of the param
        decay, grad_n = map(
            list, zip(*[optimizers.split_decay(g, p) for g, p in zip(grad_n, sig.params)])
        )
    if any(k is not None for k in decay):  # tidy the coefficients (x * 1.0 and the like)
        tidy = iter(prepare([k for k in decay if k is not None], training=True))
        decay = [None if k is None else next(tidy) for k in decay]
    slots = {p.id: optimizers.slot_leaves(opt, p) for p in sig.params}
    with site_as(f"the {opt.name} update"):  # what the update's lines cite
        new = [
            optimizers.update(
                opt, hyper, p, g, slots[p.id], None if folded else lr, k, l1.get(p.id), lr
            )
            for p, g, k in zip(sig.params, grad_n, decay)
        ]
    slot_leaves = [s for p in sig.params for s in slots[p.id].values()]
    new_slots = [u.slots[s] for u in new for s in opt.slots]
    stat_by_name = {s.name: s for s in sig.stats}
    return TrainStep(
        [loss_n, *(u.param for u in new), *new_slots, *new_stats],
        sig.inputs + sig.params + sig.stats + slot_leaves + [lr],
        [loss.name or "loss"]
        + [f"new_{p.name}" for p in sig.params]
        + [f"new_{s.name}".replace(".", "_") for s in slot_leaves]
        + [f"new_{t}" for t in updates],
        [None, *sig.params, *slot_leaves, *(stat_by_name[t] for t in updates)],
        stat_targets=list(updates),
        lr=lr,
        slots=slots,
    )


def loss_and_grads(sig: Signature, loss: Node, with_stats: bool = False) -> Graph:
    """The loss and its gradients in training mode (and the new running statistics)."""
    loss_t, updates = _training(loss)
    stats = list(updates.values()) if with_stats else []
    graph = prepare([loss_t, *grad(loss_t, sig.params), *stats], training=True)
    names = [loss.name or "loss"] + [f"grad_{p.name}" for p in sig.params]
    targets = list(updates) if with_stats else []
    return Graph(graph, sig.inputs + sig.params + sig.stats, names, stat_targets=targets)


def evaluate(sig: Signature, loss: Node) -> Graph:
    """The loss (and the predictions) in inference mode."""
    outputs = [loss] + ([sig.predictions] if sig.predictions is not None else [])
    return Graph(prepare(outputs, training=False), sig.inputs + sig.params + sig.stats)


def forward(sig: Signature, loss: Node) -> Graph:
    """The predictions (the loss, without any) in inference mode, from the leaves they need."""
    output = sig.predictions if sig.predictions is not None else loss
    feeding = {leaf.id for leaf in leaves([output])}  # one walk, not one per leaf
    needed = [n for n in sig.inputs + sig.params + sig.stats if n.id in feeding]
    return Graph(prepare([output], training=False), needed)


def monte_carlo(sig: Signature, loss: Node) -> Graph | None:
    """One Monte Carlo dropout sample of the predictions (None without predictions)."""
    if sig.predictions is None:
        return None
    needed = forward(sig, loss).leaves
    return Graph(prepare(mc_graph([sig.predictions]), training=False), needed)
