"""Gradient checking: an analytic gradient (reverse mode by default) against finite
differences, element by element, with kinks and switches handled instead of failing.

A finite-difference stencil that crosses a kink (relu, prelu, abs, maximum: `OpDef.kink`)
or changes a non-differentiable output (a comparison feeding `where`, a dropout mask)
measures a chord across the kink, not the derivative. The check watches every such op in
every evaluation; an element whose stencil crosses one is retried with smaller steps
("move") and skipped only when it sits on the kink itself.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate
from ..ir import Node, as_list
from ..table import text_table
from .gradient import grad
from .numeric import (
    SCHEMES,
    Program,
    check_number,
    check_scheme,
    describe,
    expected_error,
    steps_for,
)

KINK_POLICIES = ("move", "flag", "ignore")
RETRIES = 6  # shrink the step by 10x up to this many times to stay on one side of a kink


def element_name(name: str, index: tuple) -> str:
    """'W[1, 2]' for element (1, 2) of W; just 'W' for a scalar."""
    return f"{name}[{', '.join(map(str, index))}]" if index else name


@dataclass(frozen=True)
class Mismatch:
    """One element where the analytic and the numeric gradient disagree."""

    wrt: str
    index: tuple
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float

    @property
    def element(self) -> str:
        return element_name(self.wrt, self.index)


@dataclass(frozen=True)
class KinkCrossing:
    """An element whose finite-difference stencil crossed a kink or a switch."""

    wrt: str
    index: tuple
    ops: tuple[str, ...]  # "relu at file:line"
    step: float | None  # the step that stayed on one side, or None: skipped

    @property
    def element(self) -> str:
        return element_name(self.wrt, self.index)

    def describe(self) -> str:
        """One line: what was crossed and what the check did about it."""
        action = (
            f"step shrunk to {self.step:.1e}, checked"
            if self.step is not None
            else "skipped (on the kink: no derivative)"
        )
        return f"{self.element}: the stencil crosses {', '.join(self.ops)}; {action}"


@dataclass
class GradCheck:
    """The outcome of `check_grad`: true when every checked element agrees."""

    ok: bool
    mode: str
    scheme: str
    rtol: float
    atol: float
    checked: int
    evaluations: int
    mismatches: list[Mismatch]
    kinks: list[KinkCrossing]
    total: int = 0  # elements in all of wrt; more than `checked` when sampled or skipped

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        how = (
            f"{self.mode} mode vs {self.scheme} differences, rtol {self.rtol:.1e}, "
            f"atol {self.atol:.1e}, {self.evaluations} evaluations"
        )
        skipped = sum(k.step is None for k in self.kinks)
        if self.total > self.checked + skipped:
            how = f"a random sample of {self.total} elements; {how}"
        if self.ok:
            lines = [f"gradient check passed: {self.checked} elements agree ({how})"]
        else:
            lines = [
                f"gradient check FAILED: {len(self.mismatches)} of {self.checked} elements "
                f"disagree ({how})",
            ]
            rows = [("element", self.mode, "numeric", "|diff|", "rel")] + [
                (
                    m.element,
                    f"{m.analytic:.6g}",
                    f"{m.numeric:.6g}",
                    f"{m.abs_error:.2e}",
                    f"{m.rel_error:.2e}",
                )
                for m in self.mismatches[:20]
            ]
            lines += text_table(rows, right=(1, 2, 3, 4), indent="  ")
            if len(self.mismatches) > 20:
                lines.append(f"  ... and {len(self.mismatches) - 20} more")
        if self.kinks:
            lines.append(
                f"{len(self.kinks)} element(s) near a kink or switch"
                f"{f', {skipped} skipped' if skipped else ''}:"
            )
            lines += [f"  {k.describe()}" for k in self.kinks[:20]]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"

    def to_dict(self) -> dict:
        """The result as plain JSON-able data."""
        out = asdict(self)
        for item in out["mismatches"] + out["kinks"]:
            item["element"] = element_name(item["wrt"], item["index"])
            item["index"] = list(item["index"])
        return out


def gradient_nodes(
    y: Node,
    wrt: list[Node],
    values: Mapping[str, Any],
    mode: str,
    training: bool = False,
    **options,
) -> list[Node]:
    """`gc.grad(y, wrt, mode=mode)`, passing forward and symbolic mode the concrete shapes
    (and symbolic mode the training flag) they need."""
    if mode in ("forward", "symbolic"):
        options = {"values": values} | options
    if mode == "symbolic":
        options = {"training": training} | options
    return grad(y, wrt, mode=mode, **options)


def _elements(shape: tuple, limit: int | None, seed: int) -> list[tuple]:
    """Every index of `shape`, or `limit` of them drawn without replacement, in order."""
    indices = list(np.ndindex(*shape))
    if limit is None or len(indices) <= limit:
        return indices
    chosen = np.random.default_rng(seed).choice(len(indices), size=limit, replace=False)
    return [indices[i] for i in sorted(chosen)]


def _extrapolated(program, k, index, h, scheme, watch, numeric, tol) -> tuple[float, float]:
    """A second look at an element that disagrees: the stencil's truncation error grows with
    the function's higher derivatives (exp(x³) at 2 puts central differences 4e-9 off,
    past the default tolerance), so Richardson's extrapolation from steps h and h/2 cancels
    its leading term. Returns the new estimate and its tolerance (the round-off of the two
    stencils, amplified by the extrapolation), or the old ones when h/2 crosses a kink."""
    half, crossed = program.partial(k, index, h / 2, scheme, watch)
    if crossed:
        return numeric, tol
    gain = 2.0 ** SCHEMES[scheme].order
    return (gain * half - numeric) / (gain - 1), tol * (2 * gain + 1) / (gain - 1)


def check_grad(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping[str, Any],
    eps: float | None = None,
    scheme: str = "central",
    training: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    mode: str = "reverse",
    kinks: str = "move",
    max_elements: int | None = None,
    seed: int = 0,
    **grad_options,
) -> GradCheck:
    """Check `gc.grad(y, wrt, mode=mode)` against finite differences, element by element.

    An element passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
    By default rtol is 100x the scheme's expected error in the graph's dtype and atol is
    rtol * max(1, |y|) (round-off in finite differences scales with |y|). `kinks` is
    "move" (shrink the step until the stencil stays on one side, skip elements on a kink),
    "flag" (skip every element whose stencil crosses one) or "ignore".
    `training=True` checks the training-mode graph (batch statistics, seeded dropout).
    `max_elements` checks at most that many elements of each `wrt` node, drawn at random
    (seeded): finite differences cost evaluations per element, and large layers have many.
    """
    check_scheme(scheme, eps)
    for what, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None:
            check_number(tol, what, zero=True)
    if max_elements is not None and (
        not isinstance(max_elements, int) or isinstance(max_elements, bool) or max_elements < 1
    ):
        raise GraphError(f"max_elements must be a positive int, got {max_elements!r}")
    if kinks not in KINK_POLICIES:
        raise GraphError(f"kinks must be one of {', '.join(KINK_POLICIES)}, got {kinks!r}")
    targets = as_list(wrt)
    program = Program(y, targets, values, training)
    if scheme == "complex":
        program.check_analytic()
    analytic = evaluate(
        gradient_nodes(y, targets, values, mode, training, **grad_options),
        values,
        training=training,
    )
    y0 = abs(float(np.real(program.base_env()[program.y.id])))
    rtol = 100 * expected_error(scheme, program.eps) if rtol is None else float(rtol)
    atol = rtol * max(1.0, y0) if atol is None else float(atol)
    watch = kinks != "ignore" and scheme != "complex"
    mismatches, crossings, checked = [], [], 0
    for k, (node, grads) in enumerate(zip(targets, analytic)):
        steps = steps_for(program, k, scheme, eps)
        for index in _elements(program.base[k].shape, max_elements, seed + k):
            h = float(steps[index])
            numeric, crossed = program.partial(k, index, h, scheme, watch)
            if crossed:
                ops = tuple(
                    dict.fromkeys(
                        describe(n) if n.name is None else f"{n.op} {n.name!r}" for n in crossed
                    )
                )
                for _ in range(RETRIES if kinks == "move" else 0):
                    h /= 10
                    numeric, crossed = program.partial(k, index, h, scheme, watch)
                    if not crossed:
                        break
                crossings.append(KinkCrossing(describe(node), index, ops, None if crossed else h))
                if crossed:
                    continue
            checked += 1
            # a smaller step than the default magnifies round-off by the same factor
            tol = atol * float(steps[index]) / h + rtol * max(abs(grads[index]), abs(numeric))
            diff = abs(float(grads[index]) - numeric)
            if not diff <= tol and scheme != "complex":
                numeric, tol = _extrapolated(program, k, index, h, scheme, watch, numeric, tol)
                diff = abs(float(grads[index]) - numeric)
            if not diff <= tol:
                scale = max(abs(float(grads[index])), abs(numeric), np.finfo(float).tiny)
                mismatches.append(
                    Mismatch(
                        describe(node), index, float(grads[index]), numeric, diff, diff / scale
                    )
                )
    mismatches.sort(key=lambda m: -m.abs_error)
    return GradCheck(
        not mismatches,
        mode,
        scheme,
        rtol,
        atol,
        checked,
        program.evaluations,
        mismatches,
        crossings,
        int(sum(b.size for b in program.base)),
    )
