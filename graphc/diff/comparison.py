"""The four ways side by side: `gc.compare` differentiates one graph by every method and
reports accuracy, cost and size, as a table, a dict and an HTML table for Jupyter."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node, as_list, substitute, topological_order
from ..table import html_table, text_table
from .check import gradient_nodes
from .forward import forward_jvp_count
from .numeric import SCHEMES, describe, numeric_grad

METHODS = ("symbolic", "numeric", "forward", "reverse")


@dataclass
class MethodResult:
    """One method's gradient and what it cost; `error` says why it did not run."""

    method: str
    gradient: list[np.ndarray] | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    evaluations: int | None = None
    derivative_ops: int | None = None  # non-leaf nodes of the derivative graph
    seconds: float = 0.0
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        """JSON-able data (gradients as nested lists)."""
        out = {
            k: getattr(self, k)
            for k in (
                "method",
                "max_abs_error",
                "max_rel_error",
                "evaluations",
                "derivative_ops",
                "seconds",
                "error",
                "note",
            )
        }
        out["gradient"] = None if self.gradient is None else [g.tolist() for g in self.gradient]
        return out


def _number(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _seconds(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


_NUMBERS = (1, 2, 3, 4, 5)  # the right-aligned columns (method and note are text)


@dataclass
class Comparison:
    """The report of `gc.compare`: one `MethodResult` per method, errors measured against
    `reference`. `str()` is a fixed-width table; `report["forward"]` picks one method."""

    wrt: list[str]
    elements: int
    dtype: str
    reference: str
    results: list[MethodResult] = field(default_factory=list)

    COLUMNS = ("method", "max abs err", "max rel err", "evals", "deriv ops", "time", "note")

    def __getitem__(self, method: str) -> MethodResult:
        for result in self.results:
            if result.method == method:
                return result
        raise KeyError(
            f"no method {method!r} in this comparison; it has "
            f"{', '.join(r.method for r in self.results)}"
        )

    def rows(self) -> list[tuple[str, ...]]:
        """The table's cells as strings, one row per method."""
        rows = []
        for r in self.results:
            if not r.ok:
                rows.append(
                    (r.method, "-", "-", "-", "-", _seconds(r.seconds), f"failed: {r.error}")
                )
                continue
            rows.append(
                (
                    r.method,
                    _number(r.max_abs_error, ".1e"),
                    _number(r.max_rel_error, ".1e"),
                    _number(r.evaluations, ","),
                    _number(r.derivative_ops, ","),
                    _seconds(r.seconds),
                    r.note,
                )
            )
        return rows

    def title(self) -> str:
        return (
            f"gradient w.r.t. {', '.join(self.wrt)} ({self.elements} elements, "
            f"{self.dtype}); errors against {self.reference}"
        )

    def __str__(self) -> str:
        rows = [self.COLUMNS, *self.rows()]
        return "\n".join([self.title(), *text_table(rows, _NUMBERS)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_table(self.title(), self.COLUMNS, self.rows(), _NUMBERS)

    def to_dict(self) -> dict:
        """The report as JSON-able data."""
        return {
            "wrt": self.wrt,
            "elements": self.elements,
            "dtype": self.dtype,
            "reference": self.reference,
            "methods": [r.to_dict() for r in self.results],
        }


def op_count(nodes: Sequence[Node]) -> int:
    """The number of ops (non-leaf nodes) in the graph of `nodes`."""
    return sum(not n.is_leaf for n in topological_order(list(nodes)))


def float64_graph(outputs: Sequence[Node]) -> list[Node]:
    """`outputs` rebuilt with every float32 leaf made float64 (same names, same values)."""
    mapping = {}
    for node in topological_order(list(outputs)):
        if node.is_leaf and node.dtype == "float32":
            attrs = dict(node.attrs)
            if node.op == "const":
                attrs["value"] = np.asarray(attrs["value"], dtype=np.float64)
            mapping[node] = Node(
                node.op,
                (),
                attrs,
                node.shape,
                "float64",
                name=node.name,
                scope=node.scope,
                site=node.site,
            )
    return substitute(list(outputs), mapping)


def _run(method: str, y: Node, wrt: list[Node], values, training: bool, eps, max_ops):
    """(gradient arrays, evaluations, derivative ops, note) of one method."""
    if method.startswith("numeric"):
        scheme = method.partition(":")[2] or "central"
        result = numeric_grad(y, wrt, values, eps=eps, scheme=scheme, training=training)
        return list(result), result.evaluations, None, f"{scheme} differences"
    options = {"max_ops": max_ops} if method == "symbolic" and max_ops is not None else {}
    nodes = gradient_nodes(y, wrt, values, method, training, **options)
    grads = evaluate(nodes, values, training=training)
    if method == "forward":
        return (
            grads,
            forward_jvp_count(y, wrt, values=values),
            op_count(nodes),
            "one JVP per element",
        )
    note = "one backward pass" if method == "reverse" else "sympy.diff, then cse"
    return grads, 1, op_count(nodes), note


def _check_methods(methods: Sequence[str]) -> None:
    if isinstance(methods, str) or not methods:
        raise GraphError(f"methods must be a non-empty list of method names, got {methods!r}")
    for method in methods:
        name, _, scheme = method.partition(":")
        if not (method in METHODS or (name == "numeric" and scheme in SCHEMES)):
            raise GraphError(
                f"unknown method {method!r}; use {', '.join(METHODS)} or "
                f"numeric:<scheme> with a scheme of {', '.join(SCHEMES)}"
            )


def _errors(grads: list[np.ndarray], reference: list[np.ndarray]) -> tuple[float, float]:
    """Max absolute error, and the max over params of it relative to the param's largest
    reference entry (a norm-wise relative error: zeros in the reference do not blow up)."""
    abs_err, rel_err = 0.0, 0.0
    for g, r in zip(grads, reference):
        diff = float(np.max(np.abs(np.asarray(g, np.float64) - r), initial=0.0))
        # np.maximum, not max: a NaN gradient must show as a NaN error, not vanish
        abs_err = float(np.maximum(abs_err, diff))
        rel_err = float(
            np.maximum(rel_err, diff / max(float(np.max(np.abs(r), initial=0.0)), 1e-300))
        )
    return abs_err, rel_err


def compare(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping[str, Any],
    methods: Sequence[str] = METHODS,
    training: bool = False,
    eps: float | None = None,
    max_ops: int | None = None,
) -> Comparison:
    """Differentiate `y` with respect to `wrt` by each method and compare them.

    Methods: "symbolic", "numeric" (central differences; "numeric:forward",
    "numeric:five_point" or "numeric:complex" pick another scheme), "forward", "reverse".
    Errors are measured against the symbolic gradient when it ran on a float64 graph, else
    against reverse mode in float64 (a float32 graph's own gradients are not exact enough
    to judge float32 round-off). A method that fails (symbolic above its `max_ops` cap, the complex
    step through a kink) shows why in the report instead of raising.
    """
    targets = as_list(wrt)
    _check_methods(methods)
    results = []
    for method in methods:
        start = time.perf_counter()
        try:
            grads, evaluations, ops, note = _run(method, y, targets, values, training, eps, max_ops)
            results.append(
                MethodResult(
                    method,
                    [np.asarray(g) for g in grads],
                    evaluations=evaluations,
                    derivative_ops=ops,
                    note=note,
                )
            )
        except GraphError as error:
            results.append(MethodResult(method, error=str(error)))
        except (ArithmeticError, MemoryError, RecursionError, ValueError) as error:
            results.append(MethodResult(method, error=f"{type(error).__name__}: {error}"))
        results[-1].seconds = time.perf_counter() - start
    dtype = np.result_type(y.dtype, *(t.dtype for t in targets)).name
    symbolic = next(
        (r for r in results if r.method == "symbolic" and r.ok and dtype == "float64"), None
    )
    if symbolic is not None:
        reference_name, reference = "symbolic", symbolic.gradient
    else:
        reference_name = "reverse mode in float64"
        graph = float64_graph([y, *targets])
        reference = evaluate(
            gradient_nodes(graph[0], graph[1:], values, "reverse"), values, training=training
        )
    reference = [np.asarray(r, np.float64) for r in reference]
    for r in results:
        if r.ok:
            r.max_abs_error, r.max_rel_error = _errors(r.gradient, reference)
            if r is symbolic:
                r.note = f"{r.note}; the reference"
    elements = int(sum(np.size(r) for r in reference))
    return Comparison([describe(t) for t in targets], elements, dtype, reference_name, results)
