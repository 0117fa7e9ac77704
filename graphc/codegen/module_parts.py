"""What every style of training module shares: the model's signature (its inputs, params,
running statistics, predictions and target), the module-level tables (INPUTS, PARAMS,
STATS, HYPER, DROPOUT_RATES, CLASSES, MIN_BATCH) and the wrappers that read them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from .. import checks, errors
from ..checks import positive_int
from ..errors import GraphError
from ..feeds import class_counts, min_batch
from ..ir import Node, leaves, topological_order
from ..ops.composite import predicted_by
from . import step_size
from .module import Module
from .names import comment, literal


@dataclass
class Signature:
    """The leaves of the model, the argument variable of each, and what accuracy compares."""

    inputs: list[Node]
    params: list[Node]
    stats: list[Node]
    predictions: Node | None
    target: Node | None
    var: dict[int, str]


def find_predictions(loss: Node) -> Node | None:
    """The logits a classification loss is built on (a softmax or binary cross-entropy
    says which of its arguments they are), when the graph holds exactly one such loss."""
    found = {id(p): p for n in topological_order(loss) if (p := predicted_by(n)) is not None}
    return next(iter(found.values())) if len(found) == 1 else None


def _check_batched(inputs: list[Node]) -> None:
    """Refuse an input the module cannot slice into minibatches along its first axis: one
    without axes, or one without the batch axis (None) first when another input has it."""
    batched = any(n.shape and n.shape[0] is None for n in inputs)
    for n in inputs:
        if not n.shape or (batched and n.shape[0] is not None):
            raise GraphError(
                f"gc.export: the training module cuts every input into minibatches along its "
                f"first axis, the batch (None); input {n.name!r} has shape {n.shape} (declared "
                f"at {n.site}): give it a leading None axis, or make it a gc.const (a fixed "
                "value) or a gc.param (trained)"
            )


def signature(loss: Node, predictions: Node | None, module: Module) -> Signature:
    """The model's leaves by kind, its predictions and target, and a variable for each leaf."""
    if not isinstance(loss, Node) or loss.shape != ():
        raise GraphError(f"gc.export needs a scalar loss node, got {loss!r}")
    predictions = predictions if predictions is not None else find_predictions(loss)
    graph = [loss] + ([predictions] if predictions is not None else [])
    all_leaves = leaves(graph)
    inputs = [n for n in all_leaves if n.op == "input"]
    params = [n for n in all_leaves if n.op == "param"]
    stats = [n for n in all_leaves if n.op == "state"]
    if not params:
        raise GraphError("gc.export: the loss has no params to train")
    _check_batched(inputs)
    target = None
    if predictions is not None:
        feeding = {n.id for n in leaves(predictions, "input")}
        others = [n for n in inputs if n.id not in feeding]
        target = others[0] if len(others) == 1 else None
    var = {n.id: module.namer.fresh(n.name, n.op) for n in inputs + params + stats}
    return Signature(inputs, params, stats, predictions, target, var)


# per target: what the module needs, how it is used beyond the shared functions
_DOC_WORDS = {
    "fast": (
        "",
        "Needs NumPy only. Train from the command line on an .npz file with arrays named\n"
        "like the model's inputs (python THIS_FILE.py --help), or import it and call\n"
        "init_params(seed), init_state(seed), fit(params, state, data, ...),\n"
        "train_step(params, state, batch), forward(params, batch, state),\n"
        "predict(params, state, batch, mc_samples=0) and\n"
        "loss_and_grads(params, batch). fit() and the command line check the data\n"
        "(shapes, class ids in range) once; train_step and loss_and_grads take a\n"
        "batch as it is: as_batch(vars(module), batch) checks one you build yourself.\n",
    ),
    "readable": (
        "(style='readable')",
        "Written to be read: model() is the forward pass, one line per node of the graph, then\n"
        "the backward pass, one line per gradient in reverse order with its chain-rule step;\n"
        "update() is the optimizer's formula. {batch_norm}Needs NumPy only: train from the\n"
        "command line on an .npz file (python THIS_FILE.py --help), or import it and call\n"
        "init_params(seed), init_state(seed), fit(params, state, data, ...),\n"
        "train_step(params, state, batch), loss_and_grads(params, batch),\n"
        "forward(params, batch, state) and predict(params, state, batch, mc_samples=0).\n",
    ),
    "jax": (
        "",
        "Needs JAX and NumPy. Train from the command line on an .npz file with arrays named\n"
        "like the model's inputs (python THIS_FILE.py --help; --devices N), or import it:\n"
        "params, state = init_params(seed), init_state(seed); then\n"
        "params, state, history = fit(params, state, data, devices=None) or\n"
        "params, state, loss = train_step(params, state, batch) (jitted; params and state are\n"
        "donated, so keep only the returned ones); forward(params, batch, state) and\n"
        "loss_and_grads(params, batch, state) as in the NumPy module.\n\n"
        "Devices: fit splits each batch over every device JAX sees (jax.devices(); a GPU\n"
        "needs jax[cuda] installed, nothing else changes). Across hosts, call\n"
        "jax.distributed.initialize() in every process before fit and run the same command\n"
        "on the same data everywhere: each batch is then split over all hosts' devices.\n",
    ),
}
_BATCH_NORM = (
    "Batch norm's running variance averages the biased batch variance (PyTorch keeps\n"
    "the unbiased one). "
)


def module_doc(name: str, optimizer: str, target: str, running_statistics: bool = False) -> str:
    """The generated module's docstring, in the words of its target."""
    style, words = _DOC_WORDS[target]
    engine = ", JAX" if target == "jax" else ""
    head = f"{comment(name, 60)}: training code generated by graphc.export{style}"
    words = words.replace("{batch_norm}", _BATCH_NORM if running_statistics else "")
    return f"{head} ({optimizer}{engine}).\n\n{words}"


def check_sizes(batch_size, epochs) -> None:
    """Raise a GraphError unless the batch size and epoch count are positive ints."""
    positive_int(batch_size, "gc.export: batch_size")
    positive_int(epochs, "gc.export: epochs")


# The module-level names the generated file defines besides functions copied from
# training.py (the step reads DROPOUT_RATES; the wrappers read the others).
MODULE_GLOBALS = (
    "MODEL_NAME",
    "INPUTS",
    "PARAMS",
    "STATS",
    "TARGET",
    "HYPER",
    "DROPOUT_RATES",
    "CLASSES",
    "MIN_BATCH",
    "ONNX_MODEL",
    "init_params",
    "init_state",
    "train_step",
    "loss_and_grads",
    "evaluate_batch",
    "forward",
    "predict",
    "evaluate",
    "fit",
)


def step_size_line(module, opt, step: str, xp: str = "", target: str = "lr", read=None) -> str:
    """The line setting `target` to this step's learning rate from `lr`, for an optimizer
    whose step size changes with the step count (its step_size.py function, copied into
    the module); "" for the others. `read(name)` spells a hyper-parameter (HYPER[name])."""
    if opt.step_size is None:
        return ""
    module.copy_module(step_size)
    read = read or (lambda name: f"HYPER[{name!r}]")
    names = list(inspect.signature(getattr(step_size, opt.step_size)).parameters)[2:-1]
    args = ", ".join(["lr", step, *map(read, names), *([xp] if xp else [])])
    return f"\n    {target} = {opt.step_size}({args})  # this step's learning rate"


def dropout_rate(rates: dict[str, float], table: str = "DROPOUT_RATES"):
    """A function giving each dropout mask's rate as source: a lookup in `table` (so fit can
    override it), recording the rate in `rates`."""

    def rate(mask: dict) -> str:
        key = f"dropout_{mask['seed']}_{mask['rate']}"
        rates.setdefault(key, float(mask["rate"]))
        return f"{table}[{key!r}]"

    return rate


def emit_tables(module, sig, name, opt, hyper, batch_size, epochs, dropout, loss) -> None:
    """Add the module-level tables the wrappers and the training loop read; the data facts
    (CLASSES, MIN_BATCH) are what feeds.py finds in `loss`, for checks.py's checks."""
    classes, need = class_counts(loss), min_batch(topological_order(loss))

    def shape(n):
        return literal(tuple(-1 if d is None else d for d in n.shape))

    inputs = ",\n".join(f"    {n.name!r}: ({shape(n)}, {n.dtype!r})" for n in sig.inputs)
    params = []
    for p in sig.params:
        init = p.attrs["init"]
        init_src = (
            module.constant(init, "init") if not isinstance(init, (str, float)) else literal(init)
        )
        params.append(f"    {p.name!r}: ({init_src}, {shape(p)}, {p.dtype!r})")
    stats = ",\n".join(
        f"    {s.name!r}: ({literal(s.attrs['init'])}, {shape(s)}, {s.dtype!r})" for s in sig.stats
    )
    hyper_src = ", ".join(
        f"{k!r}: {v!r}"
        for k, v in [
            ("optimizer", opt.name),
            *hyper.items(),
            ("batch_size", batch_size),
            ("epochs", epochs),
        ]
    )
    target = repr(sig.target.name) if sig.target is not None else "None"
    module.add(
        f"MODEL_NAME = {name!r}\n"
        f"INPUTS = {{  # name: (shape, -1 is the batch), dtype\n{inputs}\n}}\n"
        f"PARAMS = {{  # name: (initializer, shape, dtype)\n"
        + ",\n".join(params)
        + f"\n}}\nSTATS = {{  # running statistics: (initial value, shape, dtype)\n"
        f"{stats}\n}}\nTARGET = {target}  # the input accuracy compares against\n"
        f"HYPER = {{{hyper_src}}}\n"
        f"DROPOUT_RATES = {dropout!r}  # fit(dropout=...) overrides them for a run\n"
        f"CLASSES = {classes!r}  # inputs holding class ids: their number of classes\n"
        f"MIN_BATCH = {need!r}  # (rows, why) a training minibatch needs, or None"
    )


def copy_checks(module) -> None:
    """Copy graphc's checks on data and runs (checks.py, with the errors it raises) into a
    generated NumPy module: its loader and fit make the same checks as gc.evaluate."""
    module.copy_module(errors)
    module.copy_module(checks)


# The wrappers both styles of module share (format field: slot_names).
STATE_WRAPPERS = '''
def init_params(seed=0):
    """Fresh params by name (the same arrays gc.init_params(loss, seed) gives)."""
    return {{name: initial_value(name, init, shape, dtype, seed)
            for name, (init, shape, dtype) in PARAMS.items()}}


def init_state(seed=0):
    """Training state: step count, dropout generator, running statistics, optimizer slots."""
    return {{
        "step": 0,
        "rng": np.random.default_rng(seed),
        "stats": {{name: np.full(shape, init, dtype=dtype)
                  for name, (init, shape, dtype) in STATS.items()}},
        "slots": {{name: {{slot: np.zeros(shape, dtype=dtype) for slot in {slot_names}}}
                  for name, (init, shape, dtype) in PARAMS.items()}},
    }}
'''

DATA_WRAPPERS = '''

def evaluate(params, state, data, batch_size=1024):
    """(mean loss, accuracy or None) over a whole data set in inference mode."""
    return evaluate_data(globals(), params, state, data, batch_size)


def fit(params, state, data, epochs=None, batch_size=None, lr=None, validation=None, seed=0,
        verbose=True, dropout=None):
    """Train in place on `data` (dict of arrays by input name); the per-epoch history."""
    return fit_model(globals(), params, state, data,
                     HYPER["epochs"] if epochs is None else epochs,
                     HYPER["batch_size"] if batch_size is None else batch_size,
                     lr, validation, seed, verbose, dropout)

'''
