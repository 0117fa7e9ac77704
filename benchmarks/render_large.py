"""How long visual takes on a 2,000-node network: building the DOT text, and the real `dot`
program laying it out as SVG, for the full view (scopes as clusters, and flat) and the view
with each scope collapsed into one box. Prints the times; run with `make bench` or directly."""

from __future__ import annotations

import sys
import time

import graphc as gc
import visual
from visual.output import pipe


def scoped_network(blocks: int, width: int = 16):
    """A residual network of `blocks` scoped blocks (about 11 nodes each)."""
    h = gc.input("x", (None, width))
    for i in range(blocks):
        with gc.scope(f"block{i}"):
            W1, W2 = gc.param(f"W1_{i}", (width, width)), gc.param(f"W2_{i}", (width, width))
            b = gc.param(f"b_{i}", (width,))
            with gc.scope("act"):
                a = gc.param(f"a_{i}", (width,), init=0.25)
                h = h + 0.5 * (gc.prelu(h @ W1 + b, a) @ W2)
    with gc.scope("loss"):
        return gc.mean(h * h)


def timed(label: str, make) -> None:
    """Print the time to build a picture and to lay it out with `dot`."""
    start = time.perf_counter()
    picture = make()
    built = time.perf_counter()
    svg = pipe(picture, "svg")
    done = time.perf_counter()
    print(
        f"{label:<34} build {built - start:6.2f} s   dot {done - built:6.2f} s   "
        f"svg {len(svg) / 1e6:5.1f} MB"
    )


def main(blocks: int = 182) -> None:
    """Time the views of a network of about 11 * `blocks` nodes."""
    loss = scoped_network(blocks)
    print(f"network: {len(gc.topological_order(loss))} nodes in {blocks} scoped blocks")
    timed("full view, scopes as clusters", lambda: visual.render(loss))
    timed("full view, no clusters", lambda: visual.render(loss, clusters=False))
    timed("full view, shapes on edges", lambda: visual.render(loss, edge_labels=True))
    timed("collapsed: one box per scope", lambda: visual.render(loss, collapse=True))
    timed("collapsed to depth 2", lambda: visual.render(loss, collapse=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 182)
