"""gc.export(..., backend="jax"): one .py file that trains the model with JAX.

The file has the NumPy module's public functions and command line; its graph functions are
pure functions of pytrees (params, running statistics, batch, PRNG key) that XLA compiles,
rendered from the same lowering plan as the NumPy module's (plan.py, render_jax.py), and
`train_step` is one jax.jit function (forward, graphc's gradient graph, running
statistics and the optimizer update) with params and state donated. `fit` trains
data-parallel over the devices JAX sees. The file imports JAX, NumPy and the standard library.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GraphError
from ..ir import Node
from . import optimizers, program
from .jax_module import JaxModule, names_used, native_ops
from .module_parts import (
    Signature,
    check_sizes,
    dropout_rate,
    emit_tables,
    module_doc,
    signature,
    step_size_line,
)
from .names import comment
from .plan import plan_function
from .render_jax import render_body

# training.py's host-side helpers the wrappers call (jax_runtime's loop and main replace
# training.py's; the helpers those call are copied with them)
_TRAINING_HELPERS = {"count_hits", "evaluate_data", "main", "training_batch"}
HERE = Path(__file__).parent
# names the generated functions use besides the copied ones
MODULE_GLOBALS = ("jax", "jnp", "np", "functools", "key", "rates", "params", "stats", "batch")


def build_jax_module(
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
) -> JaxModule:
    """The JAX training module for `loss` (see `gc.export`), not yet written anywhere."""
    if style != "fast":
        raise GraphError(f"gc.export: style={style!r} is for the NumPy backend; JAX has one style")
    opt, values = optimizers.get(optimizer, **hyper)
    check_sizes(batch_size, epochs)
    module = JaxModule(module_doc(name, optimizer, "jax"))
    module.imports = ["import functools"]
    runtime = HERE / "jax_runtime.py"
    module.copy_file(HERE.parent / "files.py")  # --save and --history write atomically
    module.copy_file(HERE.parent / "initializers.py")
    module.copy_file(HERE.parent / "errors.py")  # graphc's checks on the data and the run
    module.copy_file(HERE.parent / "checks.py")
    module.copy_file(HERE / "training.py", _TRAINING_HELPERS | names_used(runtime))
    module.copy_file(runtime)
    module.namer.taken.update(MODULE_GLOBALS)
    sig = signature(loss, predictions, module)
    if any(n.dtype == "float64" for n in sig.inputs + sig.params + sig.stats):
        module.preamble.insert(
            0, 'jax.config.update("jax_enable_x64", True)  # the model computes in float64\n'
        )
    dropout: dict[str, float] = {}
    _emit_functions(module, sig, loss, opt, values, dropout, proximal_l1)
    emit_tables(module, sig, name, opt, values, batch_size, epochs, dropout, loss)
    mc_samples = (
        'raise ValueError("the model has no predictions to sample")'
        if sig.predictions is None
        else _MC_SAMPLES
    )
    module.add(
        _WRAPPERS.format(
            optimizer=opt.name,
            step_size=step_size_line(module, opt, f"step.astype(jnp.{loss.dtype})", "jnp"),
            slots=repr(opt.slots),
            mc_samples=mc_samples,
        )
    )
    return module


def _function(module, name, args, sig, graph, returns, doc, key=None, dropout=None, sources=None):
    """Add `@jax.jit def name(args)`: the leaves read from the pytrees (or `sources`, by
    leaf id), then the plan of the program graph rendered for JAX; `returns(results)` is
    the return expression made from the variables of the outputs."""
    sources = sources or {}
    plan = plan_function(
        graph.outputs,
        {n.id: sig.var[n.id] for n in graph.leaves},
        module.namer,
        graph.names,
        native=native_ops(),
    )
    rate = dropout_rate(dropout, "rates") if dropout is not None else None
    body, results = render_body(module, plan, key, rate)
    read = {v for statement in plan.statements for v in statement.reads()} | set(results)
    lines = [f"@jax.jit\ndef {name}({', '.join(args)}):", f'    """{comment(doc, 90)}"""']
    lines += [
        f"    {sig.var[n.id]} = {sources.get(n.id) or _read(n)}"
        for n in graph.leaves
        if sig.var[n.id] in read and sig.var[n.id] not in args
    ]
    lines += [f"    {line}" for line in body] + [f"    return {returns(results)}"]
    module.add("\n".join(lines))


def _read(leaf: Node) -> str:
    """Source reading a leaf's value from the function's params, stats or batch pytree."""
    if leaf.op == "param":
        return f"params[{leaf.name!r}]"
    if leaf.op == "state":
        return f"stats[{leaf.name!r}]"
    if leaf.dtype in ("float32", "float64"):  # the batch may come as float64 NumPy arrays
        return f"jnp.asarray(batch[{leaf.name!r}], jnp.{leaf.dtype})"
    return f"batch[{leaf.name!r}]"


def _emit_functions(
    module: JaxModule, sig: Signature, loss, opt, hyper, dropout, proximal_l1=False
) -> None:
    """The program's functions, each a jitted pure function of pytrees."""
    step = program.train_step(sig, loss, opt, hyper, fold_lr=False, proximal_l1=proximal_l1)
    n = len(sig.params)
    slot_names = [(p.name, s) for p in sig.params for s in opt.slots]
    for p in sig.params:
        for s, leaf in step.slots[p.id].items():
            sig.var[leaf.id] = module.namer.fresh(f"{p.name}_{s}", "slot")
    sig.var[step.lr.id] = "lr"

    def train_returns(results: list[str]) -> str:
        params = ", ".join(f"{p.name!r}: {v}" for p, v in zip(sig.params, results[1 : 1 + n]))
        new_slots = dict(zip(slot_names, results[1 + n : 1 + n + len(slot_names)]))
        slots = ", ".join(
            f"{p.name!r}: {{{', '.join(f'{s!r}: {new_slots[p.name, s]}' for s in opt.slots)}}}"
            for p in sig.params
        )
        return f"{results[0]}, {{{params}}}, {{{slots}}}, {_stats(sig, step, results)}"

    args = ["params", "stats", "slots", "batch", "lr", "key", "rates"]
    doc = "Training mode: (loss, new params, new slots, new running statistics)."
    sources = {
        leaf.id: f"slots[{p.name!r}][{s!r}]"
        for p in sig.params
        for s, leaf in step.slots[p.id].items()
    }
    _function(module, "_train_step", args, sig, step, train_returns, doc, "key", dropout, sources)
    grads = program.loss_and_grads(sig, loss, with_stats=True)

    def grads_returns(results: list[str]) -> str:
        named = ", ".join(f"{p.name!r}: {v}" for p, v in zip(sig.params, results[1 : 1 + n]))
        return f"{results[0]}, {{{named}}}, {_stats(sig, grads, results)}"

    doc = "Training mode: (loss, gradients by param, new running statistics)."
    args = ["params", "stats", "batch", "key", "rates"]
    _function(module, "_loss_and_grads", args, sig, grads, grads_returns, doc, "key", dropout)
    pytree = ["params", "stats", "batch"]
    evaluate = program.evaluate(sig, loss)
    more = ", predictions" if sig.predictions is not None else ","
    doc = f"Inference mode: (loss{more})."
    _function(module, "_evaluate", pytree, sig, evaluate, lambda r: f"({', '.join(r)},)", doc)
    what = "predictions" if sig.predictions is not None else "loss"
    forward = program.forward(sig, loss)
    _function(module, "_forward", pytree, sig, forward, lambda r: r[0], f"The {what}.")
    mc = program.monte_carlo(sig, loss)
    if mc is not None:
        doc = "Predictions with dropout masks from `key`, batch norm in inference mode."
        args = [*pytree, "key", "rates"]
        _function(module, "_mc_forward", args, sig, mc, lambda r: r[0], doc, "key", {})


def _stats(sig: Signature, step, results: list[str]) -> str:
    """The new running statistics as a dict source: updated ones, the others as they were."""
    count = len(step.stat_targets)
    new = dict(zip(step.stat_targets, results[len(results) - count :] if count else []))
    return "{" + ", ".join(f"{s.name!r}: {new.get(s.name, sig.var[s.id])}" for s in sig.stats) + "}"


_MC_SAMPLES = """keys = jax.random.split(state["key"], int(mc_samples))
    rates = dropout_rates()
    samples = jax.vmap(lambda key: _mc_forward(params, state["stats"], batch, key, rates))(keys)
    return samples.mean(axis=0), samples.std(axis=0)"""

_WRAPPERS = '''
SLOTS = {slots}  # optimizer slots per param


def init_params(seed=0):
    """Fresh params by name (the same values gc.init_params(loss, seed) gives)."""
    return {{name: jnp.asarray(initial_value(name, init, shape, dtype, seed))
            for name, (init, shape, dtype) in PARAMS.items()}}


def init_state(seed=0):
    """Training state: step count, PRNG key (dropout), running statistics, optimizer slots."""
    return {{
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.key(seed),
        "stats": {{name: jnp.full(shape, init, dtype)
                  for name, (init, shape, dtype) in STATS.items()}},
        "slots": {{name: {{slot: jnp.zeros(shape, dtype) for slot in SLOTS}}
                  for name, (init, shape, dtype) in PARAMS.items()}},
    }}


def dropout_rates(dropout=None):
    """The rate of each dropout layer: the model's, or `dropout` for every one."""
    return dict(DROPOUT_RATES) if dropout is None else {{k: dropout for k in DROPOUT_RATES}}


@functools.partial(jax.jit, donate_argnums=(0, 1))
def train_step(params, state, batch, lr=None, dropout=None):
    """One {optimizer} step in training mode: (new params, new state, loss). params and state
    are donated (XLA reuses their memory): keep only the returned ones."""
    lr = HYPER["lr"] if lr is None else lr
    key, dropout_key = jax.random.split(state["key"])
    step = state["step"] + 1{step_size}
    loss, params, slots, stats = _train_step(
        params, state["stats"], state["slots"], batch, lr, dropout_key, dropout_rates(dropout)
    )
    return params, {{"step": step, "key": key, "stats": stats, "slots": slots}}, loss


def loss_and_grads(params, batch, state=None):
    """(loss, {{param name: gradient}}) in training mode, with the dropout masks the next
    train_step from `state` would draw; nothing is updated."""
    state = state if state is not None else init_state()
    batch = training_batch(globals(), batch, "loss_and_grads")  # fit's checks, and rows
    _, dropout_key = jax.random.split(state["key"])
    loss, grads, _ = _loss_and_grads(params, state["stats"], batch, dropout_key, dropout_rates())
    return float(loss), grads


def evaluate_batch(params, state, batch):
    """(loss, correct predictions or None) on one batch in inference mode."""
    loss, *predictions = _evaluate(params, state["stats"], batch)
    hits = count_hits(np.asarray(predictions[0]), batch[TARGET]) if predictions and TARGET else None
    return float(loss), hits


def forward(params, batch, state=None):
    """The predictions (or, without any, the loss) in inference mode."""
    return _forward(params, (state if state is not None else init_state())["stats"], batch)


def predict(params, state, batch, mc_samples=0):
    """The predictions in inference mode; with mc_samples > 0, Monte Carlo dropout instead:
    (mean, standard deviation) over that many passes, their dropout masks drawn from keys
    split off state["key"] (batch norm stays in inference mode; the state is not changed)."""
    if not mc_samples:
        return forward(params, batch, state)
    {mc_samples}


def evaluate(params, state, data, batch_size=1024):
    """(mean loss, accuracy or None) over a whole data set in inference mode."""
    return evaluate_data(globals(), params, state, data, batch_size)


def fit(params, state, data, epochs=None, batch_size=None, lr=None, validation=None, seed=0,
        verbose=True, dropout=None, devices=None):
    """Train on `data` (dict of arrays by input name), data-parallel over `devices` (None:
    all of jax.devices(); an int: the first that many); (params, state, history). The
    params and state passed in are donated: keep only the returned ones."""
    return fit_model(globals(), params, state, data,
                     HYPER["epochs"] if epochs is None else epochs,
                     HYPER["batch_size"] if batch_size is None else batch_size,
                     lr, validation, seed, verbose, dropout, devices)


if __name__ == "__main__":
    main(globals())
'''
