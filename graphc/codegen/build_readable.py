"""gc.export(style="readable"): a training module written to be read.

The model comes first: the forward pass one line per node with the graph's names, the
backward pass one line per gradient with its chain-rule step (readable.py), an unrolled
cell's steps as one `for t` loop each way (readable_loop.py), the optimizer's update as its
formula. Then the same tables, public functions and command line as the fast
module (build_numpy.py), and the training loop both copy (training.py). Same numbers as the fast
module; no buffers, no `out=`, nothing from graphc.
"""

from __future__ import annotations

import textwrap

from .. import files, initializers
from ..ir import Node, leaves, topological_order
from ..montecarlo import mc_graph
from ..ops.leaves import input as input_leaf
from ..ops.registry import F
from ..passes.specialization import specialize
from . import optimizers, readable_loop, training
from .module import Module
from .module_parts import (
    DATA_WRAPPERS,
    MODULE_GLOBALS,
    STATE_WRAPPERS,
    copy_checks,
    dropout_rate,
    emit_tables,
    module_doc,
    signature,
    step_size_line,
)
from .names import Namer, comment
from .readable import Body, backward_lines, unpack_lines
from .readable_spelling import Spelling


class ReadableModule(Module):
    """A generated module whose model functions come first, the copied training loop last."""

    def source(self) -> str:
        """The whole module's source: the model, the tables and API, then the training loop."""
        doc = self.doc.replace("\\", "/").replace('"', "'")
        parts = [f'"""{doc}"""\n', "\n".join(self.imports) + "\n"]
        if self.constants:
            parts.append("\n".join(self.constants) + "\n")
        parts += self.blocks
        parts.append(
            "# ---- the training loop and command line: the same in every module graphc "
            "exports ----\n"
        )
        parts += self.preamble
        parts.append('if __name__ == "__main__":\n    main(globals())\n')
        return "\n\n".join(parts)


def build_readable_module(
    loss: Node,
    optimizer: str = "sgd",
    *,
    predictions: Node | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    name: str = "model",
    proximal_l1: bool = False,
    **hyper,
) -> ReadableModule:
    """The readable training module for `loss` (export(..., style="readable"))."""
    opt, values = optimizers.get(optimizer, **hyper)
    module = ReadableModule(module_doc(name, opt.name, "readable", bool(leaves(loss, "state"))))
    module.copy_module(files)
    module.copy_module(initializers)
    copy_checks(module)
    module.copy_module(training)
    module.namer.taken.update(MODULE_GLOBALS + ("model", "model_inference", "model_monte_carlo"))
    sig = signature(loss, predictions, module)
    dropout: dict[str, float] = {}
    rate = dropout_rate(dropout)
    spelling = Spelling(
        lambda array: module.constant(array, "c"),
        {"dropout_mask": lambda node, args: f"dropout_mask({args[0]}, {rate(node.attrs)}, rng)"},
        lambda hint: module.namer.internal(hint),
        module.helper,
    )
    trained = specialize([loss, loss if sig.predictions is None else sig.predictions], True)
    inferred = specialize([loss, loss if sig.predictions is None else sig.predictions], False)
    same = [n.id for n in trained] == [n.id for n in inferred]
    module.add(_model_function("model", module, sig, trained, spelling, "train", same))
    inference = "model"
    if not same:
        module.add(_model_function("model_inference", module, sig, inferred, spelling, "infer"))
        inference = "model_inference"
    sampled = inference
    if sig.predictions is not None and any(
        n.op == "dropout_mask" for n in topological_order(trained)
    ):
        graph = [inferred[0], *mc_graph([sig.predictions])]
        module.add(_model_function("model_monte_carlo", module, sig, graph, spelling, "mc"))
        sampled = "model_monte_carlo"
    l1 = optimizers.l1_weights(loss, sig.params) if proximal_l1 else {}
    l1 = {p.name: l1[p.id] for p in sig.params if p.id in l1}
    module.add(_update_source(module, opt, values, spelling, l1))
    emit_tables(module, sig, name, opt, values, batch_size, epochs, dropout, loss)
    if dropout:
        module.add(_DROPOUT)
    module.add(
        (STATE_WRAPPERS + _WRAPPERS + DATA_WRAPPERS).format(
            inference_call=_call(inference, "None"),
            sample_call=_call(sampled, 'state["rng"]'),
            slot_names=repr(opt.slots),
        )
    )
    return module


def _call(fn: str, rng: str) -> str:
    """A call of a model function in inference mode (the training one stops early)."""
    extra = ", backward=False" if fn == "model" else ""
    return f'{fn}(params, state["stats"], _cast(batch), {rng}{extra})'


def _model_function(fn, module, sig, graph, spelling, mode, doubles_as_inference=False):
    """Source of one model function: forward lines, then (training) the backward lines."""
    loss, predictions = graph[0], (graph[1] if sig.predictions is not None else None)
    namer = Namer(set(module.namer.taken) - set(sig.var.values()))  # the graph's own names
    body = Body()
    first = topological_order(predictions) if predictions is not None else []
    rest = [n for n in topological_order(loss) if n.id not in {m.id for m in first}]
    if mode == "mc":
        rest = []
    pred_var = "None"
    for part, nodes in (("predictions", first), ("loss", rest)):
        used = [n for n in nodes if n.op in ("input", "param", "state")]
        for leaf in used:
            body.var[leaf.id] = namer.fresh(leaf.name, leaf.op)
        body.lines += unpack_lines(used, body.var)
        readable_loop.forward(nodes, body, namer, spelling)
        if part == "predictions" and predictions is not None:
            pred_var = body.var[predictions.id]
            labels = [n.name for n in leaves(loss, "input") if n.id not in body.var]
            if mode == "mc":
                body.lines.append(f"return None, {pred_var}, {{}}, {{}}")
            elif labels and (mode == "infer" or doubles_as_inference):
                missing = " or ".join(f"{label!r} not in batch" for label in labels)
                body.lines.append(f"if {missing}:  # no labels: the predictions only")
                body.lines.append(f"    return None, {pred_var}, {{}}, {{}}")
    if mode == "train":
        new_stats = {
            n.attrs["target"]: n.inputs[1]
            for n in topological_order(loss)
            if n.op == "update_state"
        }
        stats = ", ".join(f"{k!r}: {body.var[v.id]}" for k, v in new_stats.items())
        if doubles_as_inference:
            body.lines.append(
                f"if not backward:\n    return {body.var[loss.id]}, {pred_var}, {{}}, {{}}"
            )
        body.lines.append("")
        body.lines.append("# backward: dL/dv for every v the loss depends on, last node first")
        grads = backward_lines(loss, sig.params, body, namer, spelling)
        grad_dict = ", ".join(f"{p.name!r}: {grads[p.id]}" for p in sig.params)
        returned = f"return {body.var[loss.id]}, {pred_var}, {{{grad_dict}}}, {{{stats}}}"
        if len(returned) > 92:  # one gradient per line
            entries = "".join(f"\n    {p.name!r}: {grads[p.id]}," for p in sig.params)
            returned = f"grads = {{{entries}\n}}\n"
            returned += f"return {body.var[loss.id]}, {pred_var}, grads, {{{stats}}}"
        body.lines.append(returned)
    elif mode == "infer":
        body.lines.append(f"return {body.var[loss.id]}, {pred_var}, {{}}, {{}}")
    args = "params, stats, batch, rng=None" + (", backward=True" if doubles_as_inference else "")
    doc = _FUNCTION_DOCS[mode] + (_DOUBLES if doubles_as_inference else "")
    lines = "\n".join(("    " + line if line else "") for line in _indent(body.lines))
    header = f'def {fn}({args}):\n    """{doc}"""\n'
    return header + f"    # forward: one line per node of the graph\n{lines}\n"


def _indent(lines):
    for line in lines:
        yield from line.split("\n")


_FUNCTION_DOCS = {
    "train": "The network in training mode, forward then backward: the loss, the predictions,\n"
    "    dL/d(param) by name and the new running statistics by name.",
    "infer": "The network in inference mode (running statistics, no dropout): the loss and\n"
    "    the predictions.",
    "mc": "One Monte Carlo dropout sample: the predictions with a fresh dropout mask (batch\n"
    "    norm in inference mode).",
}
_DOUBLES = (
    "\n\n    Training and inference mode are the same network here: backward=False stops after\n"
    "    the forward pass (and with no labels in the batch, after the predictions)."
)


def _update_source(module, opt, hyper: dict, spelling: Spelling, l1: dict | None = None) -> str:
    """The optimizer's update as its formula (its graph ops spelled), over every param; with
    `l1` (param name -> the weight of its L1 terms) the proximal step for those params."""
    grad, lr = input_leaf("grad", (), "float64"), input_leaf("lr", (), "float64")
    slots = {s: input_leaf(s, (), "float64") for s in opt.slots}
    named = {k: input_leaf(k, (), "float64") for k in hyper if k != "lr"}
    step, new = opt.descent(grad, slots, lr, named)
    known = {grad.id: "grad", lr.id: "lr"} | {n.id: k for k, n in (slots | named).items()}
    about = textwrap.wrap(f"{comment(opt.about, 400)}.", 84)
    lines = [f'"""{about[0]}', *about[1:-1], f'{about[-1]}"""' if len(about) > 1 else '"""']
    lines = lines if len(about) > 1 else [f'"""{about[0]}"""']
    if named:
        lines.append(f"{', '.join(named)} = {', '.join(repr(hyper[k]) for k in named)}")
    if opt.step_size:  # the step's learning rate, lr_t, from the step count
        lines.append(step_size_line(module, opt, "step", "", "lr_t", str).strip())
        known[lr.id] = "lr_t"
    if l1:
        param, lam = input_leaf("param", (), "float64"), input_leaf("lam", (), "float64")
        known |= {param.id: "params[name]", lam.id: "L1[name]"}
        lines.append(f"L1 = {l1!r}  # the weight of each param's L1 terms: a proximal step")
    lines.append("for name, grad in grads.items():")
    if l1:
        _, text = spelling.expression(grad - lam * F.sign(param), known)
        lines += [
            "    if name in L1:  # the L1 terms' subgradient out: the step is on the rest",
            f"        grad = {text}",
        ]
    if slots:
        read = ", ".join(f"slots[name][{s!r}]" for s in slots)
        lines.append(f"    {', '.join(slots)} = {read}  # updated in place, in the state")
    for s in opt.slots:
        pre, text = spelling.expression(new[s], known)
        lines += [f"    {line}" for line in pre] + [f"    {s}[...] = {text}"]
        known[new[s].id] = s
    pre, text = spelling.expression(step, known)
    lines += [f"    {line}" for line in pre] + [f"    params[name] -= {text}"]
    if l1:  # then the soft threshold: a weight within lr * lam of zero lands on exactly 0
        pre, text = spelling.expression(optimizers.soft_threshold(param, lr * lam), known)
        lines += ["    if name in L1:  # soft threshold: weights within lr * L1 of 0 become 0"]
        lines += [f"        {line}" for line in pre] + [f"        params[name][...] = {text}"]
    body = "".join(f"    {line}\n" for line in lines if line)
    return "def update(params, grads, slots, step, lr):\n" + body


_DROPOUT = '''
def dropout_mask(x, rate, rng):
    """Inverted dropout's mask: 0 with probability `rate`, else 1 / (1 - rate)."""
    keep = rng.random(x.shape, dtype=x.dtype) >= rate
    return np.multiply(keep, 1.0 / (1.0 - rate), dtype=x.dtype)
'''

_WRAPPERS = '''

def _cast(batch):
    """The batch's arrays in the dtypes the model's inputs declare."""
    return {{k: np.asarray(v, dtype=INPUTS[k][1]) for k, v in batch.items() if k in INPUTS}}


def _gradients(params, state, batch):
    """(loss, gradients as fresh arrays of each param's dtype, new running statistics)."""
    loss, _, grads, new_stats = model(params, state["stats"], _cast(batch), state["rng"])
    grads = {{name: np.array(g, dtype=PARAMS[name][2]) for name, g in grads.items()}}
    return loss, grads, new_stats


def train_step(params, state, batch, lr=None):
    """One optimizer step on `batch` in training mode; params, running statistics and
    optimizer slots change in place. Returns the loss."""
    state["step"] += 1
    loss, grads, new_stats = _gradients(params, state, batch)
    for name, value in new_stats.items():
        state["stats"][name][...] = value
    update(params, grads, state["slots"], state["step"], HYPER["lr"] if lr is None else lr)
    return float(loss)


def loss_and_grads(params, batch, state=None):
    """(loss, {{param name: gradient}}) in training mode; nothing is updated."""
    batch = training_batch(globals(), batch, "loss_and_grads")  # fit's checks on a batch
    loss, grads, _ = _gradients(params, state if state is not None else init_state(), batch)
    return float(loss), grads


def _inference(params, state, batch):
    """(loss, predictions) in inference mode."""
    return {inference_call}[:2]


def evaluate_batch(params, state, batch):
    """(loss, correct predictions or None) on one batch in inference mode."""
    loss, predictions = _inference(params, state, batch)
    hits = count_hits(predictions, batch[TARGET]) if predictions is not None and TARGET else None
    return float(loss), hits


def forward(params, batch, state=None):
    """The predictions (or, without any, the loss) in inference mode."""
    loss, predictions = _inference(params, state if state is not None else init_state(), batch)
    return loss if predictions is None else predictions


def predict(params, state, batch, mc_samples=0):
    """The predictions in inference mode; with mc_samples > 0, Monte Carlo dropout instead:
    (mean, standard deviation) over that many passes with fresh dropout masks drawn from
    state["rng"] (batch norm stays in inference mode)."""
    if not mc_samples:
        return forward(params, batch, state)
    samples = [
        {sample_call}[1]
        for _ in range(int(mc_samples))
    ]
    if samples[0] is None:
        raise ValueError("the model has no predictions to sample")
    return np.mean(samples, axis=0), np.std(samples, axis=0)
'''
