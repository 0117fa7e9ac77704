"""The `graphc` command line: each subcommand works on a model file (a Python file defining
`model()`, and optionally `data()`) or on a graph saved as JSON by `gc.save`.

Every failure the user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

from .diff.compare import METHODS
from .errors import GraphError
from .evaluate import inputs
from .modelfile import example_values
from .progress import format_metric
from .trainer import SHOWN

EXIT_ERROR = 1
EXIT_INTERNAL = 3  # a bug in graphc, not in the user's input


class CommandError(GraphError):
    """A problem with the command line itself (bad option value, unwritable output)."""


def _load(args: argparse.Namespace, with_data: bool = False):
    from .modelfile import load_model

    return load_model(args.model, with_data=with_data)


def _ensure_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {os.path.dirname(path) or '.'} does not exist")


# ---- show ------------------------------------------------------------------------------

def _show(args: argparse.Namespace) -> int:
    from .evaluate import inputs, params
    from .ir import leaves, topological_order

    model = _load(args, with_data=True)
    order = topological_order(model.outputs)
    ops = Counter(n.op for n in order if not n.is_leaf)
    named = f"{model.loss.name!r} " if model.loss.name else ""
    print(f"{model.source}: loss {named}({model.loss.op}), {len(order)} nodes")
    leaf_nodes = inputs(model.outputs) + params(model.outputs) + leaves(model.outputs, "state")
    width = max(len(n.name) for n in leaf_nodes)
    total = 0
    for node in leaf_nodes:
        if node.op == "input":
            detail = node.dtype
        else:
            size = _size(node.shape)
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


def _size(shape: tuple) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


# ---- render ----------------------------------------------------------------------------

def _render(args: argparse.Namespace) -> int:
    import visual

    from .evaluate import params

    model = _load(args, with_data=args.values)
    kind = "backward" if args.backward else "combined" if args.combined else "forward"
    out = args.output or f"{model.name}-{kind}.svg"
    _ensure_folder(out)
    values = None
    if args.values:
        values, where = example_values(model, args.batch)
        print(f"values and gradients from {where}")
    if kind == "forward":
        picture = visual.render(model.loss, values, grads=bool(values),
                                collapse=args.collapse, title=args.title)
    else:
        draw = visual.render_backward if kind == "backward" else visual.render_combined
        picture = draw(model.loss, params(model.loss), values=values, title=args.title)
    visual.save(picture, out)
    print(f"wrote {out} ({kind} graph of {model.source})")
    return 0


# ---- compare ---------------------------------------------------------------------------

def _compare(args: argparse.Namespace) -> int:
    from .diff import compare
    from .evaluate import params

    model = _load(args, with_data=True)
    every = params(model.loss)
    wrt = every if not args.wrt else [_param(every, name, model.source) for name in args.wrt]
    values, where = example_values(model, args.batch)
    report = compare(model.loss, wrt, values, methods=args.methods, max_ops=args.max_ops)
    print(report)
    print(f"(on {where})")
    if args.output:
        _ensure_folder(args.output)
        with open(args.output, "w", encoding="utf-8") as f:
            if args.output.endswith(".json"):
                json.dump(report.to_dict(), f, indent=1)
            elif args.output.endswith(".html"):
                f.write(report._repr_html_())
            else:
                f.write(f"{report}\n")
        print(f"wrote {args.output}")
    failed = [r.method for r in report.results if not r.ok]
    return 0 if len(failed) < len(report.results) else EXIT_ERROR


def _param(every: list, name: str, source: str):
    for node in every:
        if node.name == name:
            return node
    raise CommandError(f"{source}: no param named {name!r}; the params are "
                       f"{', '.join(n.name for n in every)}")


# ---- export and train ----------------------------------------------------------------

def _hyper(args: argparse.Namespace) -> dict:
    """The optimizer's hyper-parameters given on the command line."""
    names = ("lr", "momentum", "beta1", "beta2")
    hyper = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if "lr" in hyper and not hyper["lr"] > 0:
        raise CommandError(f"the learning rate must be positive, got {hyper['lr']}")
    return hyper


def _predictions(model):
    return model.outputs[1] if len(model.outputs) > 1 else None


def _export(args: argparse.Namespace) -> int:
    from .lower import export
    from .modelfile import save_npz

    model = _load(args, with_data=bool(args.data))
    out = args.output or f"{model.name}_train.py"
    _ensure_folder(out)
    export(model.loss, out, args.optimizer, predictions=_predictions(model),
           batch_size=args.batch_size, epochs=args.epochs, **_hyper(args))
    print(f"wrote {out} (NumPy-only training code, {args.optimizer})")
    if args.data:
        if not model.data:
            raise CommandError(f"{model.source}: --data needs a model file with data()")
        _ensure_folder(args.data)
        save_npz(model.data, args.data)
        print(f"wrote {args.data} ({', '.join(model.data)} splits)")
        print(f"train it: python {out} {args.data}")
    else:
        print(f"train it: python {out} DATA.npz  (arrays named "
              f"{', '.join(n.name for n in inputs(model.loss))}; python {out} --help)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .modelfile import load_npz
    from .progress import ProgressBar
    from .trainer import compile_trainer, train

    model = _load(args, with_data=not args.data)
    data = load_npz(args.data, model.loss) if args.data else model.data
    if not data:
        raise CommandError(f"{model.source}: nothing to train on; define data() in the model "
                           "file or give --data FILE.npz")
    for path in (args.history, args.plot, args.save):
        if path:
            _ensure_folder(path)
    trainer = compile_trainer(model.loss, args.optimizer, predictions=_predictions(model),
                              name=model.name, **_hyper(args))
    rows = len(next(iter(data["train"].values())))
    print(f"training {model.name} on {rows} rows, {args.optimizer}, {args.epochs} epochs")
    bar = None if args.quiet else ProgressBar(args.epochs)
    result = train(trainer, data, args.epochs, args.batch_size, seed=args.seed, progress=bar)
    summary = "  ".join(format_metric(k, result.final(k)) for k in SHOWN
                        if result.final(k) is not None)
    print(f"final: {summary}")
    if result.test:
        print("test: " + "  ".join(format_metric(k, v) for k, v in result.test.items()))
    _write_training_outputs(args, model, result)
    return 0


def _write_training_outputs(args, model, result) -> None:
    import numpy as np

    if args.history:
        with open(args.history, "w", encoding="utf-8") as f:
            json.dump(result.history | ({"test": result.test} if result.test else {}), f,
                      indent=1)
        print(f"wrote {args.history}")
    if args.plot:
        import visual

        visual.save(visual.plot_history(result.history, title=model.name), args.plot)
        print(f"wrote {args.plot}")
    if args.save:
        with open(args.save, "wb") as f:
            np.savez(f, **result.params, **result.state["stats"])
        print(f"wrote {args.save}")


def _add_optimizer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"],
                        help="default sgd")
    parser.add_argument("--lr", type=float, help="learning rate (sgd 0.1, momentum 0.05, "
                                                 "adam 0.001 unless given)")
    parser.add_argument("--momentum", type=float, help="momentum's coefficient (0.9)")
    parser.add_argument("--beta1", type=float, help="Adam's beta1 (0.9)")
    parser.add_argument("--beta2", type=float, help="Adam's beta2 (0.999)")
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")


# ---- demo ------------------------------------------------------------------------------

def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out)
    return 0


# ---- the parser ------------------------------------------------------------------------

MODEL_HELP = "a model file (.py defining model()) or a saved graph (.json)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="graphc", description="Declare a network as a graph, differentiate it four ways, "
                                   "draw it and lower it to NumPy training code.",
        epilog="Start with `graphc demo`; examples/ holds model files to try the rest on.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full Python traceback of an internal error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", help="list a model's inputs, params, ops and data")
    show.add_argument("model", help=MODEL_HELP)
    show.set_defaults(run=_show)

    render = commands.add_parser("render", help="draw the forward or backward graph (SVG, PNG, "
                                                "PDF or DOT by the output's suffix)")
    render.add_argument("model", help=MODEL_HELP)
    render.add_argument("-o", "--output", help="the picture to write (default: "
                                               "MODEL-forward.svg in this folder)")
    side = render.add_mutually_exclusive_group()
    side.add_argument("--backward", action="store_true",
                      help="draw the reverse-mode gradient graph instead")
    side.add_argument("--combined", action="store_true",
                      help="draw forward and backward side by side")
    render.add_argument("--collapse", action="store_true",
                        help="draw each gc.scope as one box")
    render.add_argument("--values", action="store_true",
                        help="show values (and gradients) on a small batch of the data")
    render.add_argument("--batch", type=int, default=4, help="rows for --values (default 4)")
    render.add_argument("--title", help="a caption above the picture")
    render.set_defaults(run=_render)

    compare = commands.add_parser("compare", help="differentiate four ways and compare error, "
                                                  "evaluations and time")
    compare.add_argument("model", help=MODEL_HELP)
    compare.add_argument("--methods", nargs="+", default=list(METHODS), metavar="METHOD",
                         help="any of symbolic numeric forward reverse, or numeric:SCHEME "
                              "(forward, central, five_point, complex); default: all four")
    compare.add_argument("--wrt", nargs="+", metavar="PARAM",
                         help="the params to differentiate by (default: all)")
    compare.add_argument("--batch", type=int, default=4,
                         help="rows of data to evaluate on (default 4; symbolic grows fast)")
    compare.add_argument("--max-ops", type=int, default=None,
                         help="the size cap of the symbolic derivative")
    compare.add_argument("-o", "--output", help="also write the table (.txt, .json or .html)")
    compare.set_defaults(run=_compare)

    export = commands.add_parser("export", help="write NumPy-only training code for the model")
    export.add_argument("model", help=MODEL_HELP)
    export.add_argument("-o", "--output", help="the .py file to write (default: "
                                               "MODEL_train.py in this folder)")
    _add_optimizer_options(export)
    export.add_argument("--epochs", type=int, default=10, help="the script's default (10)")
    export.add_argument("--data", metavar="FILE.npz",
                        help="also write the model's data() as an .npz the script reads")
    export.set_defaults(run=_export)

    train = commands.add_parser("train", help="train the model on its data() with a progress "
                                              "bar (through the exported NumPy code)")
    train.add_argument("model", help=MODEL_HELP)
    train.add_argument("--epochs", type=int, default=20, help="default 20")
    _add_optimizer_options(train)
    train.add_argument("--seed", type=int, default=0, help="init and shuffling seed")
    train.add_argument("--data", metavar="FILE.npz", help="train on these arrays instead of "
                       "data() (named like the inputs; NAME_val / NAME_test for other splits)")
    train.add_argument("--history", metavar="FILE.json", help="write the per-epoch history")
    train.add_argument("--plot", metavar="FILE.png", help="plot the loss and accuracy curves")
    train.add_argument("--save", metavar="FILE.npz", help="write the trained params")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    demo = commands.add_parser("demo", help="the lecture's PReLU + L2 network end to end")
    demo.add_argument("--out", default="graphc-demo", help="folder for what the demo writes")
    demo.set_defaults(run=_demo)
    return parser


NO_DOT = ("the Graphviz `dot` program is not installed or not on PATH (install it: "
          "`apt-get install graphviz` or `brew install graphviz`)")


def _missing_dot(error: BaseException) -> bool:
    try:
        import graphviz
    except ImportError:
        return False
    return isinstance(error, graphviz.ExecutableNotFound)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `graphc` console command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except GraphError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"graphc: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `graphc ... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as error:
        if _missing_dot(error):
            print(f"graphc: error: {NO_DOT}", file=sys.stderr)
            return EXIT_ERROR
        if isinstance(error, OSError):  # an output path we cannot write
            where = f"{error.filename}: " if error.filename else ""
            print(f"graphc: error: {where}{error.strerror or error}", file=sys.stderr)
            return EXIT_ERROR
        if args.traceback:
            raise
        print(f"graphc: internal error: {type(error).__name__}: {error} (a bug in graphc; "
              "rerun with --traceback and report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
