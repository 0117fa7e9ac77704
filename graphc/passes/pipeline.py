"""`gc.optimize`: run named passes in order and keep what each one did.

Each pass is a function `outputs -> (new outputs, Counter)`; the pipeline records, per pass,
the node count before and after, the pass's own counts (merged, folded, simplified per
rule, fused per pattern, repointed) and both graphs, so `visual` can draw them side by side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import GraphError
from ..ir import Node, as_list, remember_orders, topological_order
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_nodes
from .fold import fold_constants
from .fusion import fuse
from .simplification import simplify

PassFn = Callable[[list[Node]], tuple[list[Node], Counter]]

PASSES: dict[str, PassFn] = {
    "dce": eliminate_dead_nodes,
    "cse": eliminate_common_subexpressions,
    "fold": fold_constants,
    "simplify": simplify,
    "fuse": fuse,
}
DEFAULT_PASSES = ("cse", "fold", "simplify", "fuse", "simplify", "dce", "cse")
_HEADLINE = ("merged", "folded", "simplified", "fused", "repointed")


@dataclass
class PassStep:
    """What one pass did: its name, the graph before and after, and its counts."""

    name: str
    before: list[Node]
    after: list[Node]
    counts: Counter = field(default_factory=Counter)

    @property
    def nodes_before(self) -> list[Node]:
        """The nodes of the graph before the pass, in topological order."""
        return topological_order(self.before)

    @property
    def nodes_after(self) -> list[Node]:
        """The nodes of the graph after the pass, in topological order."""
        return topological_order(self.after)

    @property
    def removed(self) -> int:
        """How many fewer nodes the graph has after the pass."""
        return len(self.nodes_before) - len(self.nodes_after)

    def to_dict(self) -> dict:
        """JSON-ready summary (counts only, no nodes)."""
        details = {k: v for k, v in sorted(self.counts.items()) if k not in _HEADLINE}
        return {
            "pass": self.name,
            "nodes_before": len(self.nodes_before),
            "nodes_after": len(self.nodes_after),
            "removed": self.removed,
            **{k: self.counts.get(k, 0) for k in _HEADLINE if k in self.counts},
            "rules": details,
        }


@dataclass
class OptimizeResult:
    """The optimized outputs and the step-by-step record of the passes that made them."""

    outputs: list[Node]
    steps: list[PassStep]
    original: list[Node]

    @property
    def output(self) -> Node:
        """The single optimized output (for a one-output graph)."""
        if len(self.outputs) != 1:
            raise GraphError(f"this graph has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    @property
    def nodes_before(self) -> int:
        """Node count of the graph given to optimize."""
        return len(topological_order(self.original))

    @property
    def nodes_after(self) -> int:
        """Node count of the optimized graph."""
        return len(topological_order(self.outputs))

    def to_dict(self) -> dict:
        """JSON-ready summary: totals and one entry per pass."""
        return {
            "nodes_before": self.nodes_before,
            "nodes_after": self.nodes_after,
            "passes": [step.to_dict() for step in self.steps],
        }

    def __str__(self) -> str:
        lines = [f"optimize: {self.nodes_before} -> {self.nodes_after} nodes"]
        for step in self.steps:
            info = step.to_dict()
            what = ", ".join(f"{k} {info[k]}" for k in _HEADLINE if info.get(k))
            rules = ", ".join(f"{k} x{v}" for k, v in info["rules"].items())
            lines.append(
                f"  {step.name:<9} {info['nodes_before']:>5} -> {info['nodes_after']:<5}"
                f" removed {info['removed']:<4}"
                + (f" {what}" if what else "")
                + (f"  [{rules}]" if rules else "")
            )
        return "\n".join(lines)


def _resolve(passes: Sequence[str | PassFn] | None) -> list[tuple[str, PassFn]]:
    chosen = []
    if isinstance(passes, str) or callable(passes):
        passes = [passes]
    elif passes is not None and not isinstance(passes, Iterable):
        raise GraphError(f"passes must be pass names or functions, got {passes!r}")
    for p in DEFAULT_PASSES if passes is None else passes:
        if callable(p):
            chosen.append((getattr(p, "__name__", "pass"), p))
        elif p in PASSES:
            chosen.append((p, PASSES[p]))
        else:
            raise GraphError(
                f"unknown pass {p!r}; known passes: {', '.join(PASSES)} "
                "(or pass a function outputs -> (outputs, Counter))"
            )
    return chosen


def optimize(
    outputs: Node | Iterable[Node], passes: Sequence[str | PassFn] | None = None
) -> OptimizeResult:
    """Run `passes` (names from `PASSES`, default `DEFAULT_PASSES`) over the graph of
    `outputs`; the result holds the new outputs and what each pass did."""
    current = as_list(outputs)
    original = list(current)
    steps = []
    with remember_orders():  # each pass walks the graph the last one left
        for name, run in _resolve(passes):
            after, counts = run(current)
            steps.append(PassStep(name, current, list(after), Counter(counts)))
            current = list(after)
    return OptimizeResult(current, steps, original)
