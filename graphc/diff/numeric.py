"""Numerical differentiation: finite differences and the complex step, with a step chosen
from the dtype and a count of the graph evaluations it took.

The graph is prepared once (`Program`): everything that does not depend on the
differentiated nodes is computed a single time, and each evaluation reruns only the part
downstream of them. An evaluation is one run of that part: one value of f.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EvaluationError, GraphError
from ..evaluation import leaf_value
from ..ir import Node, as_list, leaves, topological_order
from ..ops.registry import FLOAT_DTYPES, get, run_node
from ..passes.specialization import specialize
from .reverse import check_gradient_args, depends_on


@dataclass(frozen=True)
class Scheme:
    """A finite-difference stencil: f'(x) ~ sum(weight * f(x + offset * h)) / h."""

    name: str
    order: int  # the truncation error is O(h ** order)
    stencil: tuple[tuple[int, float], ...]


SCHEMES = {
    s.name: s
    for s in (
        Scheme("forward", 1, ((1, 1.0), (0, -1.0))),
        Scheme("central", 2, ((1, 0.5), (-1, -0.5))),
        Scheme("five_point", 4, ((2, -1 / 12), (1, 8 / 12), (-1, -8 / 12), (-2, 1 / 12))),
        Scheme("complex", 2, ((1, 1.0),)),  # Im f(x + ih) / h: no subtraction, no cancellation
    )
}


def machine_eps(*dtypes: str) -> float:
    """The unit round-off of the least precise of `dtypes`."""
    return max(float(np.finfo(d).eps) for d in dtypes)


def default_step(scheme: str, dtype_eps: float, x: np.ndarray) -> np.ndarray:
    """The step for each element of `x`, balancing truncation against round-off.

    A scheme of order p has error ~ C1 h**p (truncation) + C2 eps |f| / h (round-off in
    f, magnified by the division by h); the sum is smallest at h ~ eps ** (1 / (p + 1)):
    sqrt(eps) for forward differences, cbrt(eps) for central, eps ** (1/5) for five-point.
    The complex step subtracts nothing, so it has no round-off term: any h with h**2 far
    below eps works; eps itself is tiny enough and far from underflow, even in float32.
    The step scales with max(1, |x|): relative for large values, absolute near zero.
    """
    scale = np.maximum(1.0, np.abs(x))
    if scheme == "complex":
        return dtype_eps * scale
    return dtype_eps ** (1.0 / (SCHEMES[scheme].order + 1)) * scale


def expected_error(scheme: str, dtype_eps: float) -> float:
    """The relative error a scheme reaches with its default step (the balance point)."""
    if scheme == "complex":
        return dtype_eps
    order = SCHEMES[scheme].order
    return dtype_eps ** (order / (order + 1))


def _complex_dtype(dtype: str) -> str:
    return "complex64" if dtype == "float32" else "complex128"


def describe(node: Node) -> str:
    """How a node is named in reports: its name, or its op and where it was built."""
    return node.name or f"{node.op} at {node.site}"


class Program:
    """A graph prepared for many evaluations that differ only in the values of `wrt`."""

    def __init__(
        self, y: Node, wrt: Sequence[Node], values: Mapping[str, Any], training: bool = False
    ):
        wrt = as_list(wrt)
        check_gradient_args(as_list(y)[0], wrt)
        graph = specialize([y, *wrt], training)
        self.y, self.wrt, self.values = graph[0], graph[1:], values
        leaves(graph)  # refuse duplicate names before running anything
        order = topological_order(self.y)
        live = depends_on(order, self.wrt)
        self.order = [n for n in order if n.id in live]
        self.fixed: dict[int, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for node in order:
                if node.id not in live:
                    self.fixed[node.id] = self._compute(node, self.fixed, False)
            env = dict(self.fixed)
            for node in topological_order(self.wrt):
                if node.id not in env:
                    env[node.id] = self._compute(node, env, False)
        self.base = [np.array(env[w.id]) for w in self.wrt]
        self.eps = machine_eps(self.y.dtype, *(w.dtype for w in self.wrt))
        self.evaluations = 0
        self.watched = [n for n in self.order if get(n.op).kink is not None or get(n.op).nondiff]
        self._reference: dict[int, np.ndarray] | None = None
        self._base_env: dict[int, np.ndarray] | None = None

    def _compute(self, node: Node, env: dict, complex_step: bool) -> np.ndarray:
        if node.is_leaf:
            return leaf_value(node, self.values)
        args = [env[i.id] for i in node.inputs]
        if not complex_step:
            return run_node(node, args)
        opdef = get(node.op)
        kernel = opdef.complex_step if callable(opdef.complex_step) else opdef.kernel
        try:
            result = np.asarray(kernel(*args, **node.attrs))
        except (ValueError, TypeError, IndexError) as error:
            raise EvaluationError(
                f"{node.site}: {node.op} failed on complex inputs: {error}"
            ) from None
        if node.dtype in FLOAT_DTYPES:
            return result.astype(_complex_dtype(node.dtype), copy=False)
        return result.astype(node.dtype, copy=False)

    def check_analytic(self) -> None:
        """Refuse the complex step where an op between `wrt` and the output is not analytic."""
        for node in self.order:
            if not node.is_leaf and get(node.op).complex_step is False:
                names = ", ".join(describe(w) for w in self.wrt)
                raise GraphError(
                    f"{node.site}: the complex-step derivative needs every op between {names} "
                    f"and the output to be analytic, but {node.op!r} is not (a kink or a "
                    f"comparison); use scheme='central' or 'five_point'"
                )

    def run(
        self, k: int | None = None, value: np.ndarray | None = None, complex_step: bool = False
    ) -> dict[int, np.ndarray]:
        """One evaluation with `wrt[k]` set to `value` (the base point when k is None)."""
        env = dict(self.fixed)
        for i, w in enumerate(self.wrt):
            if w.is_leaf or i == k:
                env[w.id] = value if i == k else self.base[i]
        with np.errstate(all="ignore"):
            for node in self.order:
                if node.id not in env:
                    env[node.id] = self._compute(node, env, complex_step)
        self.evaluations += 1
        return env

    def crossings(self, env: dict[int, np.ndarray]) -> list[Node]:
        """Ops whose side of a kink, or whose non-differentiable output (a comparison, a
        dropout mask), differs in `env` from the base point: the stencil crossed them."""
        if self._reference is None:
            self._reference = self.signature(self.base_env())
        now = self.signature(env)
        return [n for n in self.watched if not np.array_equal(now[n.id], self._reference[n.id])]

    def base_env(self) -> dict[int, np.ndarray]:
        """The evaluation at the base point (made once, when first needed)."""
        if self._base_env is None:
            self._base_env = self.run()
        return self._base_env

    def signature(self, env: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """For each watched node: the sign of its kink function, or its output."""
        out = {}
        for node in self.watched:
            kink = get(node.op).kink
            args = [np.real(env[i.id]) for i in node.inputs]
            out[node.id] = np.sign(kink(*args)) if kink is not None else np.real(env[node.id])
        return out

    def partial(
        self, k: int, index: tuple, h: float, scheme: str, watch: bool = False
    ) -> tuple[float, list[Node]]:
        """d y / d wrt[k][index] by `scheme` with step h, and the ops its stencil crossed."""
        base = self.base[k]
        crossed: dict[int, Node] = {}
        if scheme == "complex":
            point = base.astype(_complex_dtype(self.wrt[k].dtype))
            point[index] += 1j * h
            env = self.run(k, point, complex_step=True)
            return float(np.imag(env[self.y.id])) / h, []
        x = base[index]
        h = float(np.asarray(x + h, base.dtype) - x) or h  # a step x + h can represent exactly
        total = 0.0
        for offset, weight in SCHEMES[scheme].stencil:
            point = base.copy()
            point[index] = x + offset * h
            env = self.run(k, point) if offset else self.base_env()
            total += weight * float(env[self.y.id])
            if watch and offset:
                crossed.update((n.id, n) for n in self.crossings(env))
        return total / h, list(crossed.values())


class NumericGradient(list):
    """One gradient array per `wrt` node, plus how they were made: `.evaluations` (graph
    evaluations), `.scheme`, `.steps` (the step used for each element)."""

    def __init__(self, arrays, evaluations: int, scheme: str, steps):
        super().__init__(arrays)
        self.evaluations, self.scheme, self.steps = evaluations, scheme, steps

    def __repr__(self) -> str:
        return (
            f"NumericGradient({list.__repr__(self)}, scheme={self.scheme!r}, "
            f"evaluations={self.evaluations})"
        )


def check_number(value: Any, what: str, zero: bool = False) -> None:
    """Refuse a `value` that is not a finite real number above zero (or at least zero)."""
    ok = (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and bool(np.isfinite(value))
        and (value >= 0 if zero else value > 0)
    )
    if not ok:
        kind = "a non-negative" if zero else "a positive"
        raise GraphError(f"{what} must be {kind} number, got {value!r}")


def check_scheme(scheme: str, eps: float | None) -> None:
    """Refuse an unknown scheme or a step that is not a positive number."""
    if scheme not in SCHEMES:
        raise GraphError(
            f"unknown finite-difference scheme {scheme!r}; use one of {', '.join(SCHEMES)}"
        )
    if eps is not None:
        check_number(eps, "eps")  # the step


def steps_for(program: Program, k: int, scheme: str, eps: float | None) -> np.ndarray:
    """The step for every element of wrt[k]: `eps` itself, or the dtype-based default."""
    base = program.base[k]
    if eps is not None:
        return np.full(base.shape, float(eps))
    return default_step(scheme, program.eps, base.astype(np.float64))


def numeric_grad(
    y: Node,
    wrt: Node | Sequence[Node],
    values: Mapping[str, Any],
    eps: float | None = None,
    scheme: str = "central",
    training: bool = False,
) -> NumericGradient:
    """The gradient of scalar `y` with respect to each `wrt` node, by finite differences.

    `scheme` is "forward", "central", "five_point" or "complex" (the complex step: exact
    to round-off, but only through analytic ops). `eps` is the step; None picks one per
    element from the dtype (see `default_step`). The result is a list of arrays (a
    one-element list for a single node) with `.evaluations`, the graph evaluations made.
    """
    check_scheme(scheme, eps)
    return gradient_of(Program(y, as_list(wrt), values, training), scheme, eps)


def gradient_of(program: Program, scheme: str, eps: float | None) -> NumericGradient:
    """The numeric gradient of a prepared program (evaluations counted from zero)."""
    if scheme == "complex":
        program.check_analytic()
    start = program.evaluations
    arrays, steps = [], []
    for k, base in enumerate(program.base):
        h = steps_for(program, k, scheme, eps)
        grad = np.zeros(base.shape, dtype=np.float64)
        for index in np.ndindex(base.shape):
            grad[index] = program.partial(k, index, float(h[index]), scheme)[0]
        arrays.append(grad.astype(program.wrt[k].dtype))
        steps.append(h)
    return NumericGradient(arrays, program.evaluations - start, scheme, steps)
