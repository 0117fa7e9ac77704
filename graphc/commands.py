"""The `graphc` subcommands, one function each: `args` (the parsed command line) in, exit
status out. Problems the user can fix raise `GraphError`; `cli.main` prints them in one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
from collections import Counter

import numpy as np

from .checks import check_run
from .codegen.optimizers import hyper_parameters
from .demo import run_demo
from .diff import compare as compare_gradients
from .diff import cost_table, grad
from .errors import GraphError
from .evaluation import inputs, params
from .exporting import export as export_module
from .files import write_file, write_text
from .ir import leaves, topological_order
from .limits import check_drawn, using
from .modelfile import example_values, load_model, load_npz, save_npz
from .passes import optimize as run_passes
from .progress import ProgressBar, format_metric
from .serialize import save
from .trainer import SHOWN, compile_trainer
from .trainer import train as run_training

EXIT_ERROR = 1
MAX_BATCH = 2**31 - 1  # a batch size past this is a typo, and overflows NumPy's int counts
PICTURES = (".svg", ".png", ".pdf", ".dot", ".gv")  # what visual.save writes for a graph
FIGURES = (".png", ".svg", ".pdf")  # and for a matplotlib figure


class CommandError(GraphError):
    """A problem with the command line itself (bad option value, unwritable output)."""


def _load(args: argparse.Namespace, with_data: bool = False, need_loss: bool = True):
    flags = {k: getattr(args, k, None) for k in ("loss", "labels", "prediction")}
    return load_model(args.model, with_data=with_data, need_loss=need_loss, **flags)


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
        if os.path.isdir(path):
            raise CommandError(f"{path}: {flag} names a folder; give a file name")
        wanted = (suffixes or {}).get(flag)
        if wanted and os.path.splitext(path)[1].lower() not in wanted:
            raise CommandError(f"{path}: {flag} writes {' '.join(wanted)} files")
        _ensure_folder(path)


# ---- show ------------------------------------------------------------------------------


def show(args: argparse.Namespace) -> int:
    """List a model's inputs, params, state, ops and data sizes."""
    model = _load(args, with_data=True, need_loss=False)
    order = topological_order(model.outputs)
    ops = Counter(n.op for n in order if not n.is_leaf)
    named = f"{model.loss.name!r} " if model.loss.name else ""
    what = "loss" if model.loss.shape == () else f"output {_shape(model.loss.shape)}"
    print(f"{model.source}: {what} {named}({model.loss.op}), {len(order)} nodes")
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
    check_outputs(args, {"-o": args.output}, {"-o": PICTURES})
    kind = "backward" if args.backward else "combined" if args.combined else "forward"
    model = _load(args, with_data=args.values, need_loss=args.values or kind != "forward")
    out = args.output or f"{model.name}-{kind}.svg"
    check_outputs(args, {"-o": out})
    _check_drawable(model, kind, args.collapse, out)
    # DOT text needs no layout: its size is what the user asked for
    text_only = out.lower().endswith((".dot", ".gv"))
    with using(drawn_nodes=2**62) if text_only else contextlib.nullcontext():
        _render(args, model, kind, out)
    print(f"wrote {out} ({kind} graph of {model.source})")
    return 0


def _render(args: argparse.Namespace, model, kind: str, out: str) -> None:
    import visual

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


def feature_maps(args: argparse.Namespace) -> int:
    """Draw each convolution's filters and one image's activation maps."""
    import visual

    check_outputs(args, {"-o": args.output}, {"-o": FIGURES})
    model = _load(args, with_data=True)
    out = args.output or f"{model.name}-maps.png"
    check_outputs(args, {"-o": out}, {"-o": FIGURES})
    if args.image < 0:
        raise CommandError(f"--image {args.image}: a training image's index is 0 or more")
    trained = read_params(args.params, model.outputs) if args.params else {}
    rows = len(next(iter(model.data["train"].values()), ())) if model.data else None
    if rows is not None and args.image >= rows:
        raise CommandError(
            f"--image {args.image}: the training data has {rows:,} images (0 to {rows - 1:,})"
        )
    values, where = example_values(model, args.image + 1)
    values |= trained
    picture = visual.feature_maps(
        model.loss, values, image=args.image, title=f"{model.name}: image {args.image} of {where}"
    )
    visual.save(picture, out)
    print(f"wrote {out} (filters and activation maps of {model.source})")
    return 0


def read_params(path: str, outputs) -> dict[str, np.ndarray]:
    """Trained params from an .npz file (`graphc train --save` writes one): one finite array
    of the right shape for every param of `outputs`, refused before any work."""
    if os.path.isdir(path):
        raise CommandError(f"{path}: --params names a folder, not an .npz file")
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        loaded = None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise CommandError(f"{path}: not an .npz file of arrays (np.savez writes one)")
    with loaded:
        try:
            saved = {key: loaded[key] for key in loaded.files}
        except (OSError, ValueError, EOFError):
            raise CommandError(
                f"{path}: not an .npz file of arrays (np.savez writes one)"
            ) from None
    values = {}
    for param in params(outputs):
        if param.name not in saved:
            raise CommandError(
                f"{path}: no array for the param {param.name!r} (it holds "
                f"{', '.join(sorted(saved)) or 'nothing'})"
            )
        array = saved[param.name]
        if array.shape != param.shape:
            raise CommandError(
                f"{path}: {param.name!r} has shape {array.shape}; the model's param is "
                f"{param.shape} (declared at {param.site})"
            )
        if array.dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
            raise CommandError(f"{path}: {param.name!r} holds NaN, infinity or non-numbers")
        values[param.name] = array
    return values


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
    nodes = len(topological_order(model.loss)) * (1 if kind == "forward" else 3)
    if not collapse and not out.lower().endswith((".dot", ".gv")):
        advice = "draw it with --collapse (each gc.scope as one box), or " * (kind == "forward")
        check_drawn(nodes, f"{model.source}: the {kind} graph", advice)


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
    if getattr(args, "proximal_l1", False):
        hyper["proximal_l1"] = True
    return hyper


def _predictions(model):
    return model.outputs[1] if len(model.outputs) > 1 else None


def export(args: argparse.Namespace) -> int:
    """Write the NumPy-only training script (and, with --data, its data as .npz)."""
    check_outputs(args, {"-o": args.output, "--data": args.data}, {"-o": (".py", ".onnx")})
    to_onnx = bool(args.output) and args.output.lower().endswith(".onnx")
    model = _load(args, with_data=bool(args.data), need_loss=not to_onnx)
    out = args.output or f"{model.name}_train.py"
    check_outputs(args, {"-o": out, "--data": args.data})
    if to_onnx:
        return _export_onnx(args, model, out)
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


def _export_onnx(args: argparse.Namespace, model, out: str) -> int:
    """Write the model's inference graph (its predictions) as ONNX, with trained params
    from --params when given."""
    from .onnx import to_onnx

    outputs = model.outputs[1:] or [model.loss]
    values = read_params(args.params, outputs) if args.params else None
    proto = to_onnx(outputs, out, values=values, opset=args.opset, name=model.name)
    names = ", ".join(o.name for o in proto.graph.output)
    print(f"wrote {out} (ONNX opset {proto.opset_import[0].version}, outputs {names})")
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
    from visual.diagnosis import diagnose  # the lecture's reading of the curves, in words

    reading = diagnose(result.history)
    print(f"curves: {reading.kind}: {reading.text}")
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
