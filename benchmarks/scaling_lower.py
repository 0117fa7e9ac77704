"""How gc.lower and gc.export grow with the graph: a tanh chain of 1k to 20k ops.

    python benchmarks/scaling_lower.py [--sizes 1000 2000 4000 8000 16000 20000]

For each size, the seconds to differentiate the chain (gc.grad), to lower it, to lower it
with its gradient (already built), and to build the exported training module (which
differentiates and lowers it several times), and the growth per doubling of the size:
about 2 is linear, 4 quadratic. One process, one run per size (these are seconds).
"""

import argparse
import math
import time

import graphc as gc
from graphc.codegen import build_module


def chain(n: int):
    """mean((tanh^n(x * w))^2): n tanh ops in a row, and its param."""
    x = gc.input("x", (None, 4))
    y = x * gc.param("w", (4,), init=0.5)
    for _ in range(n):
        y = gc.tanh(y)
    return gc.mean(y * y)


def seconds(fn) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(n: int) -> dict:
    """Seconds for each phase at chain length n."""
    loss = chain(n)
    grads = []
    return {
        "grad": seconds(lambda: grads.extend(gc.grad(loss, gc.params(loss)))),
        "lower": seconds(lambda: gc.lower(loss)),
        "lower with gradient": seconds(lambda: gc.lower([loss, *grads])),
        "export": seconds(lambda: build_module(loss).source()),
    }


def main(argv=None):
    """Print seconds per phase and size, then the growth per doubling between sizes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 16000, 20000]
    )
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        rows.append((n, measure(n)))
        cells = "  ".join(f"{k} {v:7.2f} s" for k, v in rows[-1][1].items())
        print(f"{n:>6} ops  {cells}", flush=True)
    print("growth per doubling (2 = linear, 4 = quadratic):")
    for (n0, a), (n1, b) in zip(rows, rows[1:]):
        doublings = math.log2(n1 / n0)
        cells = "  ".join(f"{k} {(b[k] / a[k]) ** (1 / doublings):5.2f}" for k in a)
        print(f"{n0:>6} -> {n1:<6} {cells}")
    return rows


if __name__ == "__main__":
    main()
