"""The `graphc` subcommands, one function each: `args` (the parsed command line) in, exit
status out. Problems the user can fix raise `GraphError`; `cli.main` prints them in one line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import Counter

import numpy as np

from .codegen import export as export_module
from .codegen.optimizers import hyper_parameters
from .demo import run_demo
from .diff import compare as compare_gradients
from .diff import cost_table, grad
from .errors import GraphError
from .evaluation import inputs, params
from .files import write_file, write_text
from .ir import leaves, topological_order
from .modelfile import example_values, load_model, load_npz, save_npz
from .passes import optimize as run_passes
from .progress import ProgressBar, format_metric
from .serialize import save
from .trainer import SHOWN, check_run, compile_trainer
from .trainer import train as run_training

EXIT_ERROR = 1
MAX_DRAWN_NODES = 5_000  # benchmarks/render_large.py: dot takes seconds at 2,000 nodes
MAX_BATCH = 2**31 - 1  # a batch size past this is a typo, and overflows NumPy's int counts
PICTURES = (".svg", ".png", ".pdf", ".dot", ".gv")  # what visual.save writes for a graph
FIGURES = (".png", ".svg", ".pdf")  # and for a matplotlib figure


class CommandError(GraphError):
    """A problem with the command line itself (bad option value, unwritable output)."""


def _load(args: argparse.Namespace, with_data: bool = False):
    return load_model(args.model, with_data=with_data)


def _ensure_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {os.path.dirname(path) or '.'} does not exist")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet: compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    args: argparse.Namespace, outputs: dict[str, str | None], suffixes: dict | None = None
) -> None:
    """Refuse, before any work, an output that would overwrite one of the command's inputs
    (the model file, --data when read) or another output, has a wrong suffix, or lies in a
    missing folder."""
    read = {"the model file": args.model}
    if args.command == "train" and getattr(args, "data", None):
        read["the data file"] = args.data
    given = {flag: path for flag, path in outputs.items() if path}
    for flag, path in given.items():
        path = os.fspath(path)
        for what, source in read.items():
            if _same_file(path, source):
                raise CommandError(
                    f"{path}: {flag} would overwrite {what} this command reads; "
                    "choose another output name"
                )
        for other_flag, other in given.items():
            if other_flag < flag and _same_file(path, other):
                raise CommandError(f"{path}: {other_flag} and {flag} name the same file")
        wanted = (suffixes or {}).get(flag)
        if wanted and os.path.splitext(path)[1].lower() not in wanted:
            raise CommandError(f"{path}: {flag} writes {' '.join(wanted)} files")
        _ensure_folder(path)


# ---- show ------------------------------------------------------------------------------


def show(args: argparse.Namespace) -> int:
    """List a model's inputs, params, state, ops and data sizes."""
    model = _load(args, with_data=True)
    order = topological_order(model.outputs)
    ops = Counter(n.op for n in order if not n.is_leaf)
    named = f"{model.loss.name!r} " if model.loss.name else ""
    print(f"{model.source}: loss {named}({model.loss.op}), {len(order)} nodes")
    leaf_nodes = inputs(model.outputs) + params(model.outputs) + leaves(model.outputs, "state")
    width = max((len(n.name) for n in leaf_nodes), default=0)
    total = 0
    for node in leaf_nodes:
        if node.op == "input":
            detail = node.dtype
        else:
            size = math.prod(node.shape)
            total += size if node.op == "param" else 0
            detail = f"{size} values"
        print(f"  {node.op:<6} {node.name:<{width}}  {_shape(node.shape):<10} {detail}")
    print(f"  {total} trainable values")
    print("  ops: " + ", ".join(f"{op} x{n}" for op, n in sorted(ops.items())))
    for split, arrays in model.data.items():
        rows = len(next(iter(arrays.values())))
        print(f"  data {split}: {rows} rows")
    return 0


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


# ---- render ----------------------------------------------------------------------------


def render(args: argparse.Namespace) -> int:
    """Draw the forward, backward or combined graph into a picture file."""
    import visual

    check_outputs(args, {"-o": args.output}, {"-o": PICTURES})
    model = _load(args, with_data=args.values)
    kind = "backward" if args.backward else "combined" if args.combined else "forward"
    out = args.output or f"{model.name}-{kind}.svg"
    check_outputs(args, {"-o": out})
    _check_drawable(model, kind, args.collapse, out)
    values = None
    if args.values:
        values, where = example_values(model, args.batch)
        print(f"values and gradients from {where}")
    training = args.mode == "train"  # inference unless --mode train, as gc.evaluate
    if kind == "forward":
        picture = visual.render(
            model.loss,
            values,
            grads=bool(values),
            collapse=args.collapse,
            expand=_expand(args.expand),
            title=args.title,
            highlight=args.highlight or (),
            training=training,
        )
    else:
        draw = visual.render_backward if kind == "backward" else visual.render_combined
        picture = draw(
            model.loss,
            params(model.loss),
            values=values,
            title=args.title,
            raw=args.raw,
            training=training,
        )
    visual.save(picture, out)
    print(f"wrote {out} ({kind} graph of {model.source})")
    return 0


def _expand(names: list[str] | None):
    """--expand alone opens every composite; --expand NAME... opens those."""
    return False if names is None else (names or True)


def explain(args: argparse.Namespace) -> int:
    """Write the step-through page of backprop on a small batch of the model's data."""
    import visual

    check_outputs(args, {"-o": args.output}, {"-o": (".html", ".htm")})
    model = _load(args, with_data=True)
    out = args.output or f"{model.name}-backprop.html"
    check_outputs(args, {"-o": out}, {"-o": (".html", ".htm")})
    values, where = example_values(model, args.batch)
    training = args.mode == "train"
    visual.step_through(model.loss, values, out, training=training, expand=_expand(args.expand))
    mode = "training" if training else "inference"
    print(f"wrote {out} (backprop step by step on {where}, {mode} mode; open it in a browser)")
    return 0


def _check_drawable(model, kind: str, collapse: bool, out: str) -> None:
    """Refuse a graph Graphviz would take minutes to lay out (a .dot file is only text)."""
    from .ir import topological_order

    nodes = len(topological_order(model.loss)) * (1 if kind == "forward" else 3)
    if nodes > MAX_DRAWN_NODES and not collapse and not out.endswith((".dot", ".gv")):
        advice = (
            "draw it with --collapse (each gc.scope as one box), or " if kind == "forward" else ""
        )
        raise CommandError(
            f"{model.source}: the {kind} graph has about {nodes:,} nodes, too many for Graphviz "
            f"to lay out in reasonable time (the limit is {MAX_DRAWN_NODES:,}); {advice}"
            "write the DOT text with -o FILE.dot"
        )


# ---- compare ---------------------------------------------------------------------------


def compare(args: argparse.Namespace) -> int:
    """Differentiate four ways on a small batch; print (and save) the comparison."""
    check_outputs(args, {"-o": args.output})
    model = _load(args, with_data=True)
    every = params(model.loss)
    if not every:
        raise CommandError(f"{model.source}: the loss has no params to differentiate")
    wrt = every if not args.wrt else [_param(every, name, model.source) for name in args.wrt]
    values, where = example_values(model, args.batch)
    report = compare_gradients(model.loss, wrt, values, methods=args.methods, max_ops=args.max_ops)
    print(report)
    print(f"(on {where})")
    if args.output:
        if args.output.endswith(".json"):
            text = json.dumps(report.to_dict(), indent=1)
        elif args.output.endswith(".html"):
            text = report._repr_html_()
        else:
            text = f"{report}\n"
        write_text(args.output, text)
        print(f"wrote {args.output}")
    failed = [r.method for r in report.results if not r.ok]
    return 0 if len(failed) < len(report.results) else EXIT_ERROR


def _param(every: list, name: str, source: str):
    for node in every:
        if node.name == name:
            return node
    raise CommandError(
        f"{source}: no param named {name!r}; the params are {', '.join(n.name for n in every)}"
    )


# ---- export and train ----------------------------------------------------------------


def _hyper(args: argparse.Namespace) -> dict:
    """The optimizer's hyper-parameters given on the command line."""
    names = ("lr", *hyper_parameters())
    hyper = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if "lr" in hyper and not hyper["lr"] > 0:
        raise CommandError(f"the learning rate must be positive, got {hyper['lr']}")
    return hyper


def _predictions(model):
    return model.outputs[1] if len(model.outputs) > 1 else None


def export(args: argparse.Namespace) -> int:
    """Write the NumPy-only training script (and, with --data, its data as .npz)."""
    check_outputs(args, {"-o": args.output, "--data": args.data}, {"-o": (".py",)})
    model = _load(args, with_data=bool(args.data))
    out = args.output or f"{model.name}_train.py"
    check_outputs(args, {"-o": out, "--data": args.data})
    export_module(
        model.loss,
        out,
        args.optimizer,
        predictions=_predictions(model),
        batch_size=args.batch_size,
        epochs=args.epochs,
        name=model.name,
        style="readable" if args.readable else "fast",
        backend=args.backend,
        **_hyper(args),
    )
    kind = "JAX" if args.backend == "jax" else "readable" if args.readable else "NumPy-only"
    print(f"wrote {out} ({kind} training code, {args.optimizer})")
    if args.data:
        if not model.data:
            raise CommandError(f"{model.source}: --data needs a model file with data()")
        save_npz(model.data, args.data)
        print(f"wrote {args.data} ({', '.join(model.data)} splits)")
        print(f"train it: python {out} {args.data}")
    else:
        print(
            f"train it: python {out} DATA.npz  (arrays named "
            f"{', '.join(n.name for n in inputs(model.loss))}; python {out} --help)"
        )
    return 0


def train(args: argparse.Namespace) -> int:
    """Train through the exported code with a progress bar; write history, plot, params."""
    check_run(args.epochs, args.batch_size)  # before the model loads and the banner prints
    if args.seed < 0:
        raise CommandError(f"--seed must be a non-negative int, got {args.seed}")
    check_outputs(
        args,
        {"--history": args.history, "--plot": args.plot, "--save": args.save},
        {"--plot": FIGURES, "--save": (".npz",)},
    )
    model = _load(args, with_data=not args.data)
    data = load_npz(args.data, model.loss) if args.data else model.data
    if not data:
        raise CommandError(
            f"{model.source}: nothing to train on; define data() in the model "
            "file or give --data FILE.npz"
        )
    trainer = compile_trainer(
        model.loss, args.optimizer, predictions=_predictions(model), name=model.name, **_hyper(args)
    )
    rows = len(next(iter(data["train"].values())))
    print(f"training {model.name} on {rows} rows, {args.optimizer}, {args.epochs} epochs")
    bar = None if args.quiet else ProgressBar(args.epochs)
    result = run_training(trainer, data, args.epochs, args.batch_size, seed=args.seed, progress=bar)
    summary = "  ".join(
        format_metric(k, result.final(k)) for k in SHOWN if result.final(k) is not None
    )
    print(f"final: {summary}")
    if result.test:
        print("test: " + "  ".join(format_metric(k, v) for k, v in result.test.items()))
    _write_training_outputs(args, model, result)
    return 0


def _write_training_outputs(args, model, result) -> None:
    if args.history:
        history = result.history | ({"test": result.test} if result.test else {})
        write_text(args.history, json.dumps(history, indent=1))
        print(f"wrote {args.history}")
    if args.plot:
        import visual

        visual.save(visual.plot_history(result.history, title=model.name), args.plot)
        print(f"wrote {args.plot}")
    if args.save:
        arrays = {**result.params, **result.state["stats"]}
        write_file(args.save, lambda f: np.savez(f, **arrays), binary=True)
        print(f"wrote {args.save}")


# ---- demo ------------------------------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    """Run the lecture's network end to end into --out."""
    run_demo(args.out)
    return 0


def optimize(args: argparse.Namespace) -> int:
    """Run graphc's passes over the training step (loss and gradients) or the forward graph;
    print what each pass did, optionally draw the change and save the result."""
    check_outputs(
        args,
        {"--render": args.render, "-o": args.output},
        {"--render": PICTURES, "-o": (".json",)},
    )
    model = _load(args)
    graph = [model.loss] if args.forward else [model.loss, *grad(model.loss, params(model.loss))]
    what = "forward graph" if args.forward else "loss and its gradients"
    result = run_passes(graph, args.passes)
    print(f"{model.source}: {what}")
    print(result)
    if args.render:
        import visual

        visual.save(visual.render_diff(result, title=f"{model.name}: {what}"), args.render)
        print(f"wrote {args.render}")
    if args.output:
        save(result.outputs, args.output)
        print(f"wrote {args.output} (the optimized graph; outputs: {what})")
    return 0


def cost(args: argparse.Namespace) -> int:
    """Print the FLOPs and bytes of every node of the forward and gradient graphs."""
    if not 1 <= args.batch <= MAX_BATCH:
        raise CommandError(
            f"the batch size must be a positive int up to {MAX_BATCH:,}, got {args.batch}"
        )
    model = _load(args)
    print(f"{model.source} at batch size {args.batch}")
    print(cost_table(model.loss, batch=args.batch))
    return 0
