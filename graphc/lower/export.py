"""gc.export: one .py file that trains the model with NumPy alone.

The file holds the lowered training step (forward, gradient, running statistics and the
optimizer update in one function), inference functions, initializers, the training loop
(training.py, copied) and a command line. It imports NumPy and the standard library only.
"""

from __future__ import annotations

import os

from .. import files, initializers
from ..diff import grad, vjp
from ..errors import GraphError
from ..feeds import class_counts
from ..files import write_text
from ..ir import Node, leaves, remember_orders, topological_order
from ..montecarlo import mc_graph
from ..ops.leaves import input as input_leaf
from ..passes.specialize import specialize
from . import optimizers, training
from .emit import batch_source, collector_paused, prepare
from .module import Module
from .module_parts import (
    DATA_WRAPPERS,
    MODULE_GLOBALS,
    STATE_WRAPPERS,
    Signature,
    check_sizes,
    dropout_rate,
    emit_tables,
    signature,
)
from .names import comment, np_dtype
from .plan import plan_function
from .render_fast import function_source, render_body


def build_module(
    loss: Node,
    optimizer: str = "sgd",
    *,
    predictions: Node | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    name: str = "model",
    style: str = "fast",
    **hyper,
) -> Module:
    """The training module for `loss` (see `export`), not yet written anywhere."""
    if style not in STYLES:
        raise GraphError(f"gc.export: style must be one of {', '.join(STYLES)}, got {style!r}")
    opt, values = optimizers.get(optimizer, **hyper)
    check_sizes(batch_size, epochs)
    if style == "readable":
        from .readable_module import build_readable_module  # it builds on this module

        return build_readable_module(
            loss,
            optimizer,
            predictions=predictions,
            batch_size=batch_size,
            epochs=epochs,
            name=name,
            **hyper,
        )
    module = Module(_doc(name, optimizer))
    module.copy_module(files)  # the script's --save and --history write atomically too
    module.copy_module(initializers)
    module.copy_module(training)
    module.namer.taken.update(MODULE_GLOBALS)  # a user's name never shadows them in a function
    sig = signature(loss, predictions, module)
    dropout: dict[str, float] = {}
    with collector_paused(), remember_orders():
        _emit_train_step(module, sig, loss, opt, values, dropout)
        _emit_loss_and_grads(module, sig, loss, dropout)
        forward_args = _emit_inference(module, sig, loss)
        _emit_mc_forward(module, sig, forward_args, dropout)
    emit_tables(module, sig, name, opt, values, batch_size, epochs, dropout, class_counts(loss))
    _emit_wrappers(module, sig, opt, forward_args)
    return module


def export(
    loss: Node,
    path: str | os.PathLike,
    optimizer: str = "sgd",
    *,
    predictions: Node | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    name: str | None = None,
    style: str = "fast",
    backend: str = "numpy",
    **hyper,
) -> str:
    """Write a training module for `loss` to `path`; return the path.

    style "fast" (the default, what graphc train runs) reuses buffers and fuses kernels;
    "readable" writes the forward pass one line per node, the backward pass one line per
    gradient with its chain-rule step and the optimizer's formula, with the same functions,
    command line and numbers.

    backend "numpy" (the default) writes a file that needs NumPy only; "jax" one that needs
    JAX and NumPy: pure functions that XLA compiles, a jitted train_step, fit data-parallel
    over the devices JAX sees (see export_jax.py).

    optimizer: "sgd", "momentum" or "adam"; hyper-parameters by keyword (lr, momentum,
    beta1, beta2, eps). `predictions` is the node accuracy is measured on (found by itself
    for softmax and binary cross-entropy). The file has init_params(seed),
    init_state(seed), forward(params, batch, state=None), predict(params, state, batch,
    mc_samples=0) (Monte Carlo dropout when mc_samples > 0), loss_and_grads(params, batch),
    train_step(params, state, batch), evaluate(params, state, data), fit(params, state,
    data, ...) and a command line (python FILE --help).
    """
    path = os.fspath(path)
    name = name or os.path.splitext(os.path.basename(path))[0]
    build = _BACKENDS.get(backend) if isinstance(backend, str) else None
    if build is None:
        raise GraphError(f"gc.export: unknown backend {backend!r}; choose numpy or jax")
    source = build()(
        loss,
        optimizer,
        predictions=predictions,
        batch_size=batch_size,
        epochs=epochs,
        name=name,
        style=style,
        **hyper,
    ).source()
    return write_text(path, source)


STYLES = ("fast", "readable")


def _jax_builder():
    from .render_jax import is_installed

    if not is_installed():
        raise GraphError(
            "gc.export(backend='jax') needs JAX: pip install 'graphc[jax]' (or pip install jax)"
        )
    from .export_jax import build_jax_module

    return build_jax_module


_BACKENDS = {"numpy": lambda: build_module, "jax": _jax_builder}


def _doc(name: str, optimizer: str) -> str:
    return (
        f"{comment(name, 60)}: training code generated by graphc.export ({optimizer}).\n\n"
        "Needs NumPy only. Train from the command line on an .npz file with arrays named\n"
        "like the model's inputs (python THIS_FILE.py --help), or import it and call\n"
        "init_params(seed), init_state(seed), fit(params, state, data, ...),\n"
        "train_step(params, state, batch), forward(params, batch, state),\n"
        "predict(params, state, batch, mc_samples=0) and\n"
        "loss_and_grads(params, batch). fit() and the command line check the data\n"
        "(shapes, class ids in range) once; train_step and loss_and_grads take a\n"
        "batch as it is: as_batch(vars(module), batch) checks one you build yourself.\n"
    )


def _batch(sig: Signature) -> str | None:
    return batch_source([(n, sig.var[n.id]) for n in sig.inputs])


def _args(sig: Signature, nodes: list[Node]) -> dict[int, str]:
    return {n.id: sig.var[n.id] for n in nodes}


def _emit_train_step(module, sig, loss, opt, hyper, dropout) -> None:
    (loss_t,) = specialize([loss], True)
    updates = [
        (n.attrs["target"], n.inputs[1])
        for n in topological_order(loss_t)
        if n.op == "update_state"
    ]
    scaled = opt.name == "sgd"
    if scaled:  # backpropagate lr instead of 1: every gradient arrives as its SGD step
        lr_leaf = input_leaf("graphc.lr", (), loss.dtype)
        sig.var[lr_leaf.id] = "lr"
        grads = vjp([loss_t], [lr_leaf], sig.params)
    else:
        grads = grad(loss_t, sig.params)
    graph = prepare([loss_t, *grads, *[new for _, new in updates]], training=True)
    loss_n, grad_n, new_n = graph[0], graph[1 : 1 + len(grads)], graph[1 + len(grads) :]
    decay = [None] * len(grad_n)
    if scaled:  # keep only the data term; the L2 term becomes one scaling of the param
        decay, grad_n = map(
            list, zip(*[optimizers.split_decay(g, p) for g, p in zip(grad_n, sig.params)])
        )
    if any(k is not None for k in decay):  # tidy the coefficients (x * 1.0 and the like)
        tidy = iter(prepare([k for k in decay if k is not None], training=True))
        decay = [None if k is None else next(tidy) for k in decay]
    coefficients = [k for k in decay if k is not None]
    graph = [loss_n, *grad_n, *new_n, *coefficients]
    slot_vars = {
        p.id: [module.namer.fresh(f"{p.name}_{s}", "slot") for s in opt.slots] for p in sig.params
    }
    names = [loss.name or "loss"]
    names += [f"{'step' if scaled else 'grad'}_{p.name}" for p in sig.params]
    leaves = sig.inputs + sig.params + sig.stats + ([lr_leaf] if scaled else [])
    plan = plan_function(
        graph,
        _args(sig, leaves),
        module.namer,
        names,
        escaping=[True],
        keep=[False] + [True] * (len(graph) - 1),
    )
    body = render_body(module, plan, "rng", dropout_rate(dropout))
    var = dict(zip([n.id for n in graph], plan.results))
    stat_by_name = {s.name: s for s in sig.stats}
    epilogue = [
        f"np.copyto({sig.var[stat_by_name[target].id]}, {var[new.id]})"
        f"  # running statistic {comment(target, 50)}"
        for (target, _), new in zip(updates, new_n)
    ]
    epilogue += optimizers.prologue(opt, hyper, "lr", "step")
    scratch = set(body.scratch)
    for p, g, k in zip(sig.params, grad_n, decay):
        gvar = var[g.id]
        epilogue += optimizers.update(
            opt,
            hyper,
            sig.var[p.id],
            gvar,
            slot_vars[p.id],
            "lr",
            grad_is_scratch=gvar in scratch,
            decay=None if k is None else var[k.id],
        )
        scratch.discard(gvar)
    args = [sig.var[n.id] for n in sig.inputs + sig.params + sig.stats]
    args += [v for p in sig.params for v in slot_vars[p.id]] + ["rng", "lr", "step"]
    # lr as a NumPy scalar of the model's dtype, so float32 arithmetic stays float32
    prologue = [f"lr = np.{loss.dtype}(lr)"] if scaled else []
    module.add(
        function_source(
            "_train_step",
            args,
            body,
            var[loss_n.id],
            _batch(sig),
            module,
            prologue=prologue,
            epilogue=epilogue,
            doc="Forward, gradient and update in one pass (training mode).",
        )
    )


def _emit_loss_and_grads(module, sig, loss, dropout) -> None:
    (loss_t,) = specialize([loss], True)
    graph = prepare([loss_t, *grad(loss_t, sig.params)], training=True)
    plan = plan_function(
        graph,
        _args(sig, sig.inputs + sig.params + sig.stats),
        module.namer,
        [None] + [f"grad_{p.name}" for p in sig.params],
        escaping=[True] * len(graph),
    )
    body = render_body(module, plan, "rng", dropout_rate(dropout))
    args = [sig.var[n.id] for n in sig.inputs + sig.params + sig.stats] + ["rng"]
    returns = ", ".join(plan.results)
    module.add(
        function_source(
            "_loss_and_grads",
            args,
            body,
            f"({returns},)",
            _batch(sig),
            module,
            doc="Loss and gradients in training mode.",
        )
    )


def _emit_inference(module, sig, loss) -> list[Node]:
    """Emit _evaluate (and _forward, when there are predictions); the leaves _forward takes."""
    outputs = [loss] + ([sig.predictions] if sig.predictions is not None else [])
    graph = prepare(outputs, training=False)
    plan = plan_function(
        graph,
        _args(sig, sig.inputs + sig.params + sig.stats),
        module.namer,
        escaping=[True] * len(graph),
    )
    body = render_body(module, plan)
    args = [sig.var[n.id] for n in sig.inputs + sig.params + sig.stats]
    returns = ", ".join(plan.results)
    module.add(
        function_source(
            "_evaluate",
            args,
            body,
            f"({returns},)",
            _batch(sig),
            module,
            doc="Loss (and predictions) in inference mode.",
        )
    )
    if sig.predictions is None:
        return []
    (pred,) = prepare([sig.predictions], training=False)
    feeding = {leaf.id for leaf in leaves([sig.predictions])}  # one walk, not one per leaf
    needed = [n for n in sig.inputs + sig.params + sig.stats if n.id in feeding]
    plan = plan_function([pred], _args(sig, needed), module.namer, escaping=[True])
    body = render_body(module, plan)
    module.add(
        function_source(
            "_forward",
            [sig.var[n.id] for n in needed],
            body,
            plan.results[0],
            batch_source([(n, sig.var[n.id]) for n in needed if n.op == "input"]),
            module,
            doc="Predictions in inference mode.",
        )
    )
    return needed


def _emit_mc_forward(module, sig, needed: list[Node], dropout) -> None:
    """Emit _mc_forward: the predictions with fresh dropout masks, batch norm in inference
    mode (one Monte Carlo sample; predict(mc_samples=...) averages them)."""
    if sig.predictions is None:
        return
    (pred,) = prepare(mc_graph([sig.predictions]), training=False)
    plan = plan_function([pred], _args(sig, needed), module.namer, escaping=[True])
    body = render_body(module, plan, "rng", dropout_rate(dropout))
    module.add(
        function_source(
            "_mc_forward",
            [sig.var[n.id] for n in needed] + ["rng"],
            body,
            plan.results[0],
            batch_source([(n, sig.var[n.id]) for n in needed if n.op == "input"]),
            module,
            doc="Predictions with fresh dropout masks (one Monte Carlo dropout sample).",
        )
    )


def _call(fn: str, args: list[str], indent: str = "        ") -> str:
    return f"{fn}(\n" + "".join(f"{indent}{a},\n" for a in args) + indent[:-4] + ")"


def _emit_wrappers(module, sig, opt, forward_args: list[Node]) -> None:
    def batch_arg(n):
        return f"np.asarray(batch[{n.name!r}], dtype={np_dtype(n.dtype)})"

    def forward_call_args(leaves):
        return [
            batch_arg(n)
            if n.op == "input"
            else f"params[{n.name!r}]"
            if n.op == "param"
            else f"stats[{n.name!r}]"
            for n in leaves
        ]

    params = [f"params[{p.name!r}]" for p in sig.params]
    stats = [f"stats[{s.name!r}]" for s in sig.stats]
    slots = [f"slots[{p.name!r}][{s!r}]" for p in sig.params for s in opt.slots]
    inputs = [batch_arg(n) for n in sig.inputs]
    module.add(
        _WRAPPERS.format(
            slot_names=repr(opt.slots),
            train_call=_call(
                "_train_step",
                inputs
                + params
                + stats
                + slots
                + ["state['rng']", "HYPER['lr'] if lr is None else lr", "state['step']"],
            ),
            grads_call=_call("_loss_and_grads", inputs + params + stats + ["rng"]),
            grad_names=repr([p.name for p in sig.params]),
            eval_call=_call("_evaluate", inputs + params + stats),
            forward_call=_call("_forward", forward_call_args(forward_args))
            if sig.predictions is not None
            else "_evaluate_loss(params, batch, stats)",
            mc_samples="samples = np.stack([\n        "
            + _call("_mc_forward", [*forward_call_args(forward_args), "rng"], " " * 12)
            + "\n        for _ in range(int(mc_samples))\n    ])"
            if sig.predictions is not None
            else 'raise ValueError("the model has no predictions to sample")',
        )
    )


_WRAPPERS = (
    STATE_WRAPPERS
    + '''

def train_step(params, state, batch, lr=None):
    """One optimizer step on `batch` in training mode; params, running statistics and
    optimizer slots change in place. Returns the loss."""
    state["step"] += 1
    stats, slots = state["stats"], state["slots"]
    return float({train_call})


def loss_and_grads(params, batch, state=None):
    """(loss, {{param name: gradient}}) in training mode; nothing is updated."""
    state = state if state is not None else init_state()
    stats, rng = state["stats"], state["rng"]
    loss, *grads = {grads_call}
    return float(loss), dict(zip({grad_names}, grads))


def evaluate_batch(params, state, batch):
    """(loss, correct predictions or None) on one batch in inference mode."""
    stats = state["stats"]
    loss, *predictions = {eval_call}
    hits = count_hits(predictions[0], batch[TARGET]) if predictions and TARGET else None
    return float(loss), hits


def _evaluate_loss(params, batch, stats):
    return {eval_call}[0]


def forward(params, batch, state=None):
    """The predictions (or, without any, the loss) in inference mode."""
    stats = (state if state is not None else init_state())["stats"]
    return {forward_call}


def predict(params, state, batch, mc_samples=0):
    """The predictions in inference mode; with mc_samples > 0, Monte Carlo dropout instead:
    (mean, standard deviation) over that many passes with fresh dropout masks drawn from
    state["rng"] (batch norm stays in inference mode)."""
    if not mc_samples:
        return forward(params, batch, state)
    stats, rng = state["stats"], state["rng"]
    {mc_samples}
    return samples.mean(axis=0), samples.std(axis=0)
'''
    + DATA_WRAPPERS
    + """
if __name__ == "__main__":
    main(globals())
"""
)
