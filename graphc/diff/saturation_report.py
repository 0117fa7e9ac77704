"""Saturation: for each activation in a graph, how many units have a local derivative so
small that almost no gradient passes (saturated sigmoid/tanh, dead ReLU)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node, as_list, topological_order
from ..ops.registry import REGISTRY, get
from ..passes.specialization import specialize
from ..table import html_table, text_table
from .numeric import check_number, describe
from .reverse import zeros_like

_NUMBERS = (3, 4, 5)  # the right-aligned columns


@dataclass(frozen=True)
class ActivationSaturation:
    """One activation node: the share of its values, and of its units (last axis), whose
    local derivative |f'(x)| is below the threshold."""

    node: str
    op: str
    shape: tuple
    saturated: float  # fraction of all values (every example, every unit)
    dead_units: float  # fraction of units saturated on every example of the batch
    mean_derivative: float  # mean |f'(x)|


@dataclass
class SaturationReport:
    """`gc.saturation`'s answer: one row per activation node, in graph order."""

    threshold: float
    layers: list[ActivationSaturation]

    COLUMNS = ("activation", "op", "shape", "saturated", "dead units", "mean |f'|")

    def __getitem__(self, name: str) -> ActivationSaturation:
        for layer in self.layers:
            if layer.node == name:
                return layer
        raise KeyError(
            f"no activation {name!r}; the graph has "
            f"{', '.join(layer.node for layer in self.layers) or 'none'}"
        )

    def rows(self) -> list[tuple[str, ...]]:
        """The table's cells as strings."""
        return [
            (
                a.node,
                a.op,
                str(a.shape),
                f"{a.saturated:.1%}",
                f"{a.dead_units:.1%}",
                f"{a.mean_derivative:.3g}",
            )
            for a in self.layers
        ]

    def title(self) -> str:
        """The table's caption."""
        return f"saturation: local derivative below {self.threshold:g}"

    def __str__(self) -> str:
        return "\n".join([self.title(), *text_table([self.COLUMNS, *self.rows()], _NUMBERS)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_table(self.title(), self.COLUMNS, self.rows(), _NUMBERS)

    def to_dict(self) -> dict:
        """JSON-able data."""
        return {
            "threshold": self.threshold,
            "layers": [asdict(a) | {"shape": list(a.shape)} for a in self.layers],
        }


def activations() -> tuple[str, ...]:
    """The ops whose local derivative can vanish (`OpDef.saturates`), in registry order."""
    return tuple(name for name, opdef in REGISTRY.items() if opdef.saturates)


def local_derivative(node: Node) -> Node:
    """d node / d its first input, elementwise: the op's own vjp rule with a cotangent of
    ones (exact for elementwise activations, whose Jacobian is diagonal)."""
    opdef = get(node.op)
    if opdef.nondiff or not opdef.vjp or opdef.vjp[0] is None:
        raise GraphError(f"{node.site}: {node.op} has no local derivative to measure")
    return opdef.vjp[0](zeros_like(node) + 1.0, node)


def saturation(
    outputs: Node | Sequence[Node],
    values: Mapping[str, Any],
    threshold: float = 1e-2,
    training: bool = False,
    ops: Sequence[str] | None = None,
) -> SaturationReport:
    """Per activation node of `ops` (default: every op whose `OpDef.saturates`) in the graph
    of `outputs`: the fraction of values and of units whose local derivative is below
    `threshold`, evaluated at `values`."""
    check_number(threshold, "threshold")
    if ops is None:
        ops = activations()
    graph = specialize(as_list(outputs), training)
    found = [n for n in topological_order(graph) if n.op in ops]
    if not found:
        return SaturationReport(float(threshold), [])
    derivatives = evaluate([local_derivative(n) for n in found], values, training=training)
    layers = []
    for node, d in zip(found, derivatives):
        small = np.abs(d) < threshold
        per_unit = small.reshape(-1, small.shape[-1]).all(axis=0) if small.ndim else small
        layers.append(
            ActivationSaturation(
                describe(node),
                node.op,
                tuple(np.shape(d)),
                float(small.mean()),
                float(np.mean(per_unit)),
                float(np.abs(d).mean()),
            )
        )
    return SaturationReport(float(threshold), layers)
