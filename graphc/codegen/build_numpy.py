"""gc.export: one .py file that trains the model with NumPy alone.

The file holds the lowered training step (forward, gradient, running statistics and the
optimizer update in one function), inference functions, initializers, the training loop
(training.py, copied) and a command line. It imports NumPy and the standard library only.
"""

from __future__ import annotations

import os

from .. import files, initializers
from ..errors import GraphError
from ..files import write_text
from ..ir import Node, remember_orders
from . import optimizers, program, training
from .lowering import batch_source, collector_paused
from .module import Module
from .module_parts import (
    DATA_WRAPPERS,
    MODULE_GLOBALS,
    STATE_WRAPPERS,
    check_sizes,
    copy_checks,
    dropout_rate,
    emit_tables,
    find_predictions,
    module_doc,
    signature,
    step_size_line,
)
from .names import np_dtype
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
    proximal_l1: bool = False,
    **hyper,
) -> Module:
    """The training module for `loss` (see `export`), not yet written anywhere."""
    if style not in STYLES:
        raise GraphError(f"gc.export: style must be one of {', '.join(STYLES)}, got {style!r}")
    opt, values = optimizers.get(optimizer, **hyper)
    check_sizes(batch_size, epochs)
    if style == "readable":
        from .build_readable import build_readable_module  # it builds on this module

        return build_readable_module(
            loss,
            optimizer,
            predictions=predictions,
            batch_size=batch_size,
            epochs=epochs,
            name=name,
            proximal_l1=proximal_l1,
            **hyper,
        )
    module = Module(module_doc(name, optimizer, "fast"))
    module.copy_module(files)  # the script's --save and --history write atomically too
    module.copy_module(initializers)
    copy_checks(module)
    module.copy_module(training)
    module.namer.taken.update(MODULE_GLOBALS)  # a user's name never shadows them in a function
    sig = signature(loss, predictions, module)
    dropout: dict[str, float] = {}
    with collector_paused(), remember_orders():
        _emit_functions(module, sig, loss, opt, values, dropout, proximal_l1)
    emit_tables(module, sig, name, opt, values, batch_size, epochs, dropout, loss)
    _emit_wrappers(module, sig, opt, values, program.forward(sig, loss).leaves)
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
    proximal_l1: bool = False,
    tail=None,
    **hyper,
) -> str:
    """Write a training module for `loss` to `path`; return the path.

    style "fast" (the default, what graphc train runs) reuses buffers and fuses kernels;
    "readable" writes the forward pass one line per node, the backward pass one line per
    gradient with its chain-rule step and the optimizer's formula, with the same functions,
    command line and numbers.

    backend "numpy" (the default) writes a file that needs NumPy only; "jax" one that needs
    JAX and NumPy: pure functions that XLA compiles, a jitted train_step, fit data-parallel
    over the devices JAX sees (see build_jax.py).

    optimizer: "sgd", "momentum" or "adam"; hyper-parameters by keyword (lr, momentum,
    beta1, beta2, eps). proximal_l1=True gives the L1 terms of the loss (strength *
    gc.l1(W)) the proximal step: the optimizer's step on the rest of the loss, then a soft
    threshold by lr * strength, which sets small weights exactly to 0. `predictions` is
    the node accuracy is measured on (found by itself for softmax and binary
    cross-entropy). The file has init_params(seed), init_state(seed), forward(params,
    batch, state=None), predict(params, state, batch, mc_samples=0) (Monte Carlo dropout
    when mc_samples > 0), loss_and_grads(params, batch), train_step(params, state, batch),
    evaluate(params, state, data), fit(params, state, data, ...) and a command line
    (python FILE --help). `tail(predictions, name)`, when given, is module-level source
    added at the end (gc.export's: the model's ONNX form, for the command line's --onnx).
    """
    path = os.fspath(path)
    name = name or os.path.splitext(os.path.basename(path))[0]
    build = _BACKENDS.get(backend) if isinstance(backend, str) else None
    if build is None:
        raise GraphError(f"gc.export: unknown backend {backend!r}; choose numpy or jax")
    module = build()(
        loss,
        optimizer,
        predictions=predictions,
        batch_size=batch_size,
        epochs=epochs,
        name=name,
        style=style,
        proximal_l1=proximal_l1,
        **hyper,
    )
    if tail is not None:  # more module-level source, made from the model's predictions
        module.add_table(
            tail(predictions if predictions is not None else find_predictions(loss), name)
        )
    return write_text(path, module.source())


STYLES = ("fast", "readable")


def _jax_builder():
    from .render_jax import is_installed

    if not is_installed():
        raise GraphError(
            "gc.export(backend='jax') needs JAX: pip install 'graphc[jax]' (or pip install jax)"
        )
    from .build_jax import build_jax_module

    return build_jax_module


_BACKENDS = {"numpy": lambda: build_module, "jax": _jax_builder}


def _function(module, sig, fn, graph, doc, rng=False, dropout=None, prologue=()):
    """Add `def fn(...)`: the plan of one program graph rendered by the fast renderer,
    arguments the graph's leaves (and `rng`); results returned as one value or a tuple."""
    plan = plan_function(
        graph.outputs,
        {n.id: sig.var[n.id] for n in graph.leaves},
        module.namer,
        graph.names,
        escaping=[d is None for d in graph.donate or [None] * len(graph.outputs)],
        donate=[None if d is None else sig.var[d.id] for d in graph.donate],
    )
    body = render_body(module, plan, "rng" if rng else None, dropout_rate(dropout) if rng else None)
    args = [sig.var[n.id] for n in graph.leaves] + (["rng"] if rng else [])
    inputs = [(n, sig.var[n.id]) for n in graph.leaves if n.op == "input"]
    returns = plan.results[0] if fn in _SINGLE else f"({', '.join(plan.results)},)"
    module.add(
        function_source(
            fn, args, body, returns, batch_source(inputs), module, prologue=prologue, doc=doc
        )
    )


_SINGLE = ("_train_step", "_forward", "_mc_forward")  # they return their first result


def _emit_functions(module, sig, loss, opt, hyper, dropout, proximal_l1=False) -> None:
    """The program's functions in fast NumPy: the training step updates its donated params,
    slots and running statistics in place and returns the loss."""
    step = program.train_step(sig, loss, opt, hyper, fold_lr=True, proximal_l1=proximal_l1)
    for p in sig.params:
        for s, leaf in step.slots[p.id].items():
            sig.var[leaf.id] = module.namer.fresh(f"{p.name}_{s}", "slot")
    sig.var[step.lr.id] = "lr"
    # lr as a NumPy scalar of the model's dtype, so float32 arithmetic stays float32
    prologue = [f"lr = np.{loss.dtype}(lr)"]
    doc = "Forward, gradient and update in one pass (training mode)."
    _function(module, sig, "_train_step", step, doc, True, dropout, prologue)
    doc = "Loss and gradients in training mode."
    grads = program.loss_and_grads(sig, loss)
    _function(module, sig, "_loss_and_grads", grads, doc, rng=True, dropout=dropout)
    _function(module, sig, "_evaluate", program.evaluate(sig, loss), _EVALUATE)
    _function(module, sig, "_forward", program.forward(sig, loss), _FORWARD)
    mc = program.monte_carlo(sig, loss)
    if mc is not None:
        _function(module, sig, "_mc_forward", mc, _MC, rng=True, dropout=dropout)


_EVALUATE = "Loss (and predictions) in inference mode."
_FORWARD = "Predictions (or, without any, the loss) in inference mode."
_MC = "Predictions with fresh dropout masks (one Monte Carlo dropout sample)."


def _call(fn: str, args: list[str], indent: str = "        ") -> str:
    return f"{fn}(\n" + "".join(f"{indent}{a},\n" for a in args) + indent[:-4] + ")"


def _emit_wrappers(module, sig, opt, hyper, forward_args: list[Node]) -> None:
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
                "_train_step", inputs + params + stats + slots + ["lr", "state['rng']"]
            ),
            step_size=step_size_line(module, opt, 'state["step"]'),
            grads_call=_call("_loss_and_grads", inputs + params + stats + ["rng"]),
            grad_names=repr([p.name for p in sig.params]),
            eval_call=_call("_evaluate", inputs + params + stats),
            forward_call=_call("_forward", forward_call_args(forward_args)),
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
    lr = HYPER["lr"] if lr is None else lr{step_size}
    return float({train_call})


def loss_and_grads(params, batch, state=None):
    """(loss, {{param name: gradient}}) in training mode; nothing is updated."""
    state = state if state is not None else init_state()
    batch = training_batch(globals(), batch, "loss_and_grads")  # fit's checks, and rows
    stats, rng = state["stats"], state["rng"]
    loss, *grads = {grads_call}
    return float(loss), dict(zip({grad_names}, grads))


def evaluate_batch(params, state, batch):
    """(loss, correct predictions or None) on one batch in inference mode."""
    stats = state["stats"]
    loss, *predictions = {eval_call}
    hits = count_hits(predictions[0], batch[TARGET]) if predictions and TARGET else None
    return float(loss), hits


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
