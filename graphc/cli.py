"""The `graphc` command line: each subcommand works on a model file (a Python file defining
`model()`, and optionally `data()`) or on a graph saved as JSON by `gc.save`.

Every failure the user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import commands
from .codegen.optimizers import OPTIMIZERS, hyper_parameters
from .diff.comparison import METHODS
from .errors import GraphError

EXIT_ERROR = commands.EXIT_ERROR
EXIT_INTERNAL = 3  # a bug in graphc, not in the user's input


def _add_optimizer_options(parser: argparse.ArgumentParser) -> None:
    """The optimizer options `export` and `train` share."""
    parser.add_argument("--optimizer", default="sgd", choices=list(OPTIMIZERS), help="default sgd")
    defaults = ", ".join(f"{name} {opt.defaults['lr']}" for name, opt in OPTIMIZERS.items())
    parser.add_argument("--lr", type=float, help=f"learning rate ({defaults} unless given)")
    for key, users in hyper_parameters().items():
        uses = ", ".join(f"{name}: {value}" for name, value in users)
        parser.add_argument(f"--{key}", type=float, help=f"{key} ({uses})")
    parser.add_argument(
        "--proximal-l1",
        action="store_true",
        help="L1 terms (strength * gc.l1(W)) take the proximal step: the optimizer's step on "
        "the rest of the loss, then a soft threshold by lr * strength (exact zeros)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")


def _add_picture_options(parser: argparse.ArgumentParser) -> None:
    """The options every picture of numbers shares: the mode and which composites to open."""
    parser.add_argument(
        "--mode",
        choices=["train", "eval"],
        help="training (batch statistics, dropout on) or inference (default eval)",
    )
    parser.add_argument(
        "--expand",
        nargs="*",
        metavar="NAME",
        help="draw the ops inside losses and layers (all, or only these: batch_norm ...)",
    )


# ---- the parser ------------------------------------------------------------------------

MODEL_HELP = "a model file (.py defining model()), a saved graph (.json) or an ONNX model (.onnx)"


def _add_onnx_options(parser: argparse.ArgumentParser) -> None:
    """What an .onnx model, which holds no loss, needs to be trained or differentiated."""
    group = parser.add_argument_group("for an .onnx model")
    group.add_argument(
        "--loss",
        choices=["softmax_cross_entropy", "mse", "binary_cross_entropy_with_logits"],
        help="the loss on the model's prediction",
    )
    group.add_argument("--labels", metavar="NAME", help="the input holding the targets (y)")
    group.add_argument(
        "--prediction", metavar="OUTPUT", help="the ONNX output the loss reads (the first)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="graphc",
        description="Declare a network as a graph, differentiate it four ways, "
        "draw it and lower it to NumPy training code.",
        epilog="Start with `graphc demo`; examples/ holds model files to try the rest on.",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="show the full Python traceback of an internal error",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = sub.add_parser("show", help="list a model's inputs, params, ops and data")
    show.add_argument("model", help=MODEL_HELP)
    _add_onnx_options(show)
    show.set_defaults(run=commands.show)

    render = sub.add_parser(
        "render",
        help="draw the forward or backward graph (SVG, PNG, PDF or DOT by the output's suffix)",
    )
    render.add_argument("model", help=MODEL_HELP)
    _add_onnx_options(render)
    render.add_argument(
        "-o", "--output", help="the picture to write (default: MODEL-forward.svg in this folder)"
    )
    side = render.add_mutually_exclusive_group()
    side.add_argument(
        "--backward", action="store_true", help="draw the reverse-mode gradient graph instead"
    )
    side.add_argument(
        "--combined", action="store_true", help="draw forward and backward side by side"
    )
    render.add_argument("--collapse", action="store_true", help="draw each gc.scope as one box")
    _add_picture_options(render)
    render.add_argument(
        "--raw",
        action="store_true",
        help="with --backward/--combined: reverse mode's tape as built, not simplified",
    )
    render.add_argument(
        "--values",
        action="store_true",
        help="show values (and gradients) on a small batch of the data",
    )
    render.add_argument("--batch", type=int, default=4, help="rows for --values (default 4)")
    render.add_argument("--title", help="a caption above the picture")
    render.add_argument(
        "--highlight",
        nargs="+",
        metavar="NAME",
        help="draw every path from these nodes to the loss in red",
    )
    render.set_defaults(run=commands.render)

    maps = sub.add_parser(
        "feature-maps",
        help="draw the filters and activation maps of a convolutional model's layers",
    )
    maps.add_argument("model", help=MODEL_HELP)
    maps.add_argument("-o", "--output", help="the picture (.png .svg .pdf; default MODEL-maps.png)")
    maps.add_argument("--params", metavar="FILE.npz", help="trained params (train --save)")
    maps.add_argument("--image", type=int, default=0, help="which training image (default 0)")
    maps.set_defaults(run=commands.feature_maps)

    explain = sub.add_parser(
        "explain",
        help="write one HTML page that steps through backprop gate by gate (→/← keys)",
    )
    explain.add_argument("model", help=MODEL_HELP)
    _add_onnx_options(explain)
    explain.add_argument(
        "-o", "--output", help="the .html page to write (default: MODEL-backprop.html here)"
    )
    explain.add_argument("--batch", type=int, default=2, help="rows of data to show (default 2)")
    _add_picture_options(explain)
    explain.set_defaults(run=commands.explain)

    compare = sub.add_parser(
        "compare", help="differentiate four ways and compare error, evaluations and time"
    )
    compare.add_argument("model", help=MODEL_HELP)
    _add_onnx_options(compare)
    compare.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        metavar="METHOD",
        help="any of symbolic numeric forward reverse, or numeric:SCHEME "
        "(forward, central, five_point, complex); default: all four",
    )
    compare.add_argument(
        "--wrt", nargs="+", metavar="PARAM", help="the params to differentiate by (default: all)"
    )
    compare.add_argument(
        "--batch",
        type=int,
        default=4,
        help="rows of data to evaluate on (default 4; symbolic grows fast)",
    )
    compare.add_argument(
        "--max-ops", type=int, default=None, help="the size cap of the symbolic derivative"
    )
    compare.add_argument("-o", "--output", help="also write the table (.txt, .json or .html)")
    compare.set_defaults(run=commands.compare)

    export = sub.add_parser(
        "export", help="write training code for the model (NumPy only, or JAX with --backend jax)"
    )
    export.add_argument("model", help=MODEL_HELP)
    _add_onnx_options(export)
    export.add_argument(
        "-o",
        "--output",
        help="the .py file to write (default: MODEL_train.py in this folder), or an .onnx "
        "file: the inference graph as ONNX",
    )
    export.add_argument(
        "--params",
        metavar="FILE.npz",
        help="with -o FILE.onnx: the trained params (graphc train --save, or the script's)",
    )
    export.add_argument("--opset", type=int, help="with -o FILE.onnx: the ONNX opset (18)")
    _add_optimizer_options(export)
    export.add_argument("--epochs", type=int, default=10, help="the script's default (10)")
    export.add_argument(
        "--readable",
        action="store_true",
        help="write code made to be read: the forward pass one line per node, the backward "
        "pass one line per gradient with its chain-rule step, the optimizer's formula",
    )
    export.add_argument(
        "--backend",
        choices=("numpy", "jax"),
        default="numpy",
        help="numpy (default): NumPy-only code; jax: jitted JAX code for any device",
    )
    export.add_argument(
        "--data",
        metavar="FILE.npz",
        help="also write the model's data() as an .npz the script reads",
    )
    export.set_defaults(run=commands.export)

    train = sub.add_parser(
        "train",
        help="train the model on its data() with a progress bar (through the exported NumPy code)",
    )
    train.add_argument("model", help=MODEL_HELP)
    train.add_argument("--epochs", type=int, default=20, help="default 20")
    _add_optimizer_options(train)
    train.add_argument("--seed", type=int, default=0, help="init and shuffling seed")
    train.add_argument(
        "--data",
        metavar="FILE.npz",
        help="train on these arrays instead of "
        "data() (named like the inputs; NAME_val / NAME_test for other splits)",
    )
    train.add_argument("--history", metavar="FILE.json", help="write the per-epoch history")
    train.add_argument("--plot", metavar="FILE.png", help="plot the loss and accuracy curves")
    train.add_argument("--save", metavar="FILE.npz", help="write the trained params")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=commands.train)

    optimize = sub.add_parser(
        "optimize",
        help="run the graph passes (CSE, folding, simplification, fusion, DCE) and report each",
    )
    optimize.add_argument("model", help=MODEL_HELP)
    optimize.add_argument(
        "--forward",
        action="store_true",
        help="only the forward graph (default: the loss and its gradients)",
    )
    optimize.add_argument(
        "--passes",
        nargs="+",
        metavar="PASS",
        help="passes in order (default: cse fold simplify fuse simplify dce "
        "cse); any of dce cse fold simplify fuse",
    )
    optimize.add_argument(
        "--render", metavar="FILE.svg", help="draw the graph before and after, changes marked"
    )
    optimize.add_argument("-o", "--output", metavar="FILE.json", help="save the optimized graph")
    optimize.set_defaults(run=commands.optimize)

    cost = sub.add_parser("cost", help="FLOPs and bytes per node, forward and gradient")
    cost.add_argument("model", help=MODEL_HELP)
    cost.add_argument("--batch", type=int, default=32, help="the batch size (default 32)")
    cost.set_defaults(run=commands.cost)

    demo = sub.add_parser("demo", help="the lecture's PReLU + L2 network end to end")
    demo.add_argument("--out", default="graphc-demo", help="folder for what the demo writes")
    demo.set_defaults(run=commands.demo)
    return parser


class _ClosedPipeSafe:
    """Standard output that, once its reader has left (`graphc train ... | head -1`), drops
    what is printed instead of raising, so the command still writes the files asked for."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # the text still buffered goes nowhere
        os.close(devnull)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `graphc` console command; returns the exit status."""
    args = build_parser().parse_args(argv)
    stdout = sys.stdout
    if hasattr(stdout, "fileno") and not isinstance(stdout, _ClosedPipeSafe):
        try:
            stdout.fileno()
            sys.stdout = _ClosedPipeSafe(stdout)
        except (OSError, ValueError):  # captured output (tests, notebooks) has no pipe
            pass
    try:
        return _run(args)
    finally:
        sys.stdout = stdout


def _run(args: argparse.Namespace) -> int:
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
    except Exception as error:  # a missing `dot` is already a GraphError from visual.save
        if isinstance(error, OSError):  # an output path we cannot write (files.py names it)
            where = f"{error.filename}: " if error.filename else ""
            print(f"graphc: error: {where}{error.strerror or error}", file=sys.stderr)
            return EXIT_ERROR
        if isinstance(error, MemoryError):
            print(
                "graphc: error: out of memory (an array or graph too large for this machine; "
                "try a smaller --batch or model)",
                file=sys.stderr,
            )
            return EXIT_ERROR
        if args.traceback:
            raise
        print(
            f"graphc: internal error: {type(error).__name__}: {error} (a bug in graphc; "
            "rerun with --traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
