"""The `graphc` command line."""

from __future__ import annotations

import argparse
import sys

from .errors import GraphError


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="graphc", description="Declare a network as a graph, differentiate it four ways, "
                                   "draw it and lower it to NumPy training code.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="the lecture's PReLU + L2 network end to end")
    demo.add_argument("--out", default="graphc-demo", help="folder for what the demo writes")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `graphc` console command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except GraphError as error:
        print(f"graphc: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
