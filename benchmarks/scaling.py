"""How graphc's machinery grows with the graph: building, differentiating, optimizing,
lowering, exporting, saving and loading a tanh chain of 1k to 20k nodes (its gradient
included from differentiation on). Prints the seconds per phase and the ratio per doubling
(about 2 is linear, about 4 quadratic), all measured in one run. Not a timed test.

    .venv/bin/python benchmarks/scaling.py [--sizes 1000 2000 4000 8000 16000 20000]
"""

from __future__ import annotations

import os

# the BLAS settings of the shell must not change what is measured (no effect on the
# pure-Python phases, but the habit is the same in every benchmark)
for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402

FAILED: dict[str, str] = {}  # phase -> what went wrong where
PHASES = ("build", "grad", "optimize", "lower", "export", "save", "load")
LIMIT = 120.0  # seconds: a phase slower than this is not run at the larger sizes


def chain(nodes: int):
    """A chain of about `nodes` nodes: x -> tanh(x * w + 0.5) -> ... -> sum (4 per link)."""
    x = gc.param("x", (4,))
    w = gc.param("w", (4,))
    h = x
    for _ in range(nodes // 4):
        h = gc.tanh(h * w + 0.5)
    return gc.sum(h), [x, w]


def measure(nodes: int, skip: set[str], folder: str) -> dict[str, float]:
    """Seconds per phase for one chain size (phases in `skip` are left out)."""
    times: dict[str, float] = {}

    def timed(phase, work):
        if phase in skip:
            return None
        start = time.perf_counter()
        try:
            result = work()
        except Exception as error:  # shown in the table; the other phases still run
            FAILED.setdefault(phase, f"{type(error).__name__} at {nodes:,} nodes")
            skip.add(phase)
            return None
        times[phase] = time.perf_counter() - start
        return result

    loss, wrt = timed("build", lambda: chain(nodes))
    grads = timed("grad", lambda: gc.grad(loss, wrt)) or gc.grad(loss, wrt)
    graph = [loss, *grads]
    timed("optimize", lambda: gc.optimize(graph))
    timed("lower", lambda: gc.lower(graph))
    timed("export", lambda: gc.export(loss, os.path.join(folder, "chain.py")))
    path = os.path.join(folder, "chain.json")
    timed("save", lambda: gc.save(graph, path))
    timed("load", lambda: gc.load(path) if os.path.exists(path) else None)
    return times


def main(argv: list[str] | None = None) -> None:
    """Print the table of seconds and ratios per doubling."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 20000])
    args = parser.parse_args(argv)
    print(f"graphc scaling, tanh chain with its gradient; Python {sys.version.split()[0]}")
    print(f"NumPy {np.__version__}; phases slower than {LIMIT:.0f} s stop growing")
    rows, skip = [], set()
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            times = measure(size, skip, folder)
            rows.append((size, times))
            skip |= {phase for phase, seconds in times.items() if seconds > LIMIT}
            cells = "  ".join(
                f"{phase} {times[phase]:7.2f}s" if phase in times else f"{phase}      -  "
                for phase in PHASES
            )
            built = len(gc.topological_order(chain(size)[0]))
            print(f"{built:>6} nodes  {cells}", flush=True)
    for phase, what in FAILED.items():
        print(f"  {phase} failed: {what}")
    print("\nratio per doubling of the node count (2 = linear, 4 = quadratic):")
    for phase in PHASES:
        points = [(n, t[phase]) for n, t in rows if phase in t and t[phase] > 0]
        if len(points) < 2:
            continue
        (n0, t0), (n1, t1) = points[0], points[-1]
        per_doubling = 2 ** (math.log(t1 / t0) / math.log(n1 / n0))
        print(
            f"  {phase:<9} {per_doubling:4.2f}  ({n0:,} -> {n1:,} nodes: {t0:.2f} s -> {t1:.2f} s)"
        )


if __name__ == "__main__":
    main()
