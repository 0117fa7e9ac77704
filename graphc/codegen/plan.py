"""Schedule: a primitive graph becomes a straight list of statements, one per node.

The plan knows no target: each statement names a primitive (an array-API function such
as "add" or "sum", or a runtime helper), its operands (variables, Python literals, the
run-time shape or size of a variable) and keyword literals, the result's shape and dtype,
whether the result may view its operands, and a comment saying which op and which line of
the user's code it comes from. Renderers turn statements into source; only the fast
NumPy renderer adds buffers (buffers.py).

Operands are tuples: ("var", name), ("lit", python value), ("shape", name) for the
run-time shape of a variable, ("size", name, axes) for the product of some of its sizes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError
from ..ir import Node, topological_order
from ..ops.registry import FLOAT_DTYPES, REGISTRY, ShapeOf, SizeOf, result_dtype
from .decompose import primitive_graph
from .names import Namer, comment


@dataclass
class Statement:
    """`target = call(*args, **kwargs)`: one primitive call (see the module docstring)."""

    target: str
    call: str  # the array-API function, or the helper's name when `helper`
    args: list
    kwargs: dict
    shape: tuple
    dtype: str
    helper: bool = False
    view: bool = False  # the result may share memory with its operands
    comment: str = ""

    def reads(self) -> list[str]:
        """The variables this statement reads (values or shapes)."""
        return [a[1] for a in self.args if a[0] in ("var", "shape", "size")]


@dataclass
class Plan:
    """One function's statements, in order, with its arguments and results.

    `constants` are module-level arrays the statements read by name. `escaping` results
    outlive the call (the caller keeps them); `keep` results are read by statements the
    caller appends after these. A result that is an argument or views one (or views a
    constant) is copied by a final "copy" statement, so no caller array leaks back.
    `donated` maps a result to the argument whose memory it replaces (a param, an
    optimizer slot, a running statistic): a renderer that mutates writes it there, in
    place where the buffer plan can, a pure one just returns it.
    """

    args: list[str]
    statements: list[Statement]
    results: list[str]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    escaping: set[str] = field(default_factory=set)
    keep: set[str] = field(default_factory=set)
    shapes: dict[str, tuple] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    donated: dict[str, str] = field(default_factory=dict)


def plan_function(
    outputs: Sequence[Node],
    args: dict[int, str],
    namer: Namer,
    names: Sequence[str | None] = (),
    escaping: Sequence[bool] = (),
    keep: Sequence[bool] = (),
    donate: Sequence[str | None] = (),
    native: frozenset[str] = frozenset(),
) -> Plan:
    """The plan computing `outputs` from the argument variables `args` (leaf id -> name).

    Per output (by position): `names` suggests its variable name, `escaping` says the
    caller keeps its value, `keep` that statements appended later read it, `donate` names
    the argument variable whose memory the value replaces. `native` names the ops the
    target's runtime computes whole: each is one helper call named after the op, its
    attributes as keywords.
    """
    graph, origins = primitive_graph(list(outputs), native)
    order = topological_order(graph)
    schedule = _Scheduler(namer, origins, native)
    for node in order:
        if node.is_leaf and node.op != "const":
            if node.id not in args:
                raise GraphError(
                    f"the graph needs {node.op} {node.name!r} (made at "
                    f"{node.site}), which is not among the function's inputs"
                )
            schedule.bind(node, args[node.id])
    wanted = {}
    for k, node in enumerate(graph):
        if k < len(names) and names[k] and not node.is_leaf:
            wanted.setdefault(node.id, names[k])
    for node in order:
        if not node.is_leaf:
            schedule.add(node, wanted.get(node.id))
    results = [
        schedule.constant(node) if node.op == "const" else schedule.var[node.id] for node in graph
    ]  # a constant result is copied below, like an argument: callers may change it
    plan = Plan(
        list(args.values()),
        schedule.statements,
        results,
        schedule.constants,
        {v for v, e in zip(results, escaping) if e},
        {v for v, k in zip(results, keep) if k},
        schedule.shapes,
        schedule.dtypes,
    )
    _copy_shared_results(plan, schedule, graph, names)
    plan.donated = {v: arg for v, arg in zip(plan.results, donate) if arg is not None}
    return plan


class _Scheduler:
    """Gives each node a variable and a statement, in topological order."""

    def __init__(self, namer: Namer, origins, native: frozenset[str] = frozenset()):
        self.namer, self.origins, self.native = namer, origins, native
        self.var: dict[int, str] = {}
        self.statements: list[Statement] = []
        self.constants: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple] = {}
        self.dtypes: dict[str, str] = {}
        self.aliases: dict[str, frozenset] = {}  # variable -> arguments/constants it may view

    def bind(self, node: Node, name: str) -> None:
        """`node`'s value is in variable `name` (an argument or a constant)."""
        self.var[node.id] = name
        self.shapes[name], self.dtypes[name] = node.shape, node.dtype
        self.aliases[name] = frozenset({name})

    def constant(self, node: Node) -> str:
        """A module-level constant holding a const node's value; its name."""
        if node.id not in self.var:
            name = self.namer.internal("c")
            self.constants[name] = node.attrs["value"]
            self.bind(node, name)
        return self.var[node.id]

    def add(self, node: Node, wanted: str | None) -> None:
        """The statement computing `node` (its inputs have variables already)."""
        opdef = REGISTRY[node.op]
        origin = self.origins.roots.get(node.id)
        if wanted is None and origin is None and node.id in self.origins.inner:
            target = self.namer.internal("t")
        else:
            source = node if origin is None else origin
            target = self.namer.fresh(wanted or source.name or node.name, source.op)
        native = node.op in self.native and opdef.array_fn is None and opdef.helper is None
        positional, kwargs = (node.inputs, node.attrs) if native else opdef.call(node)
        args = [self._operand(a, node) for a in positional]
        view = opdef.view
        statement = Statement(
            target,
            node.op if native else opdef.helper or opdef.array_fn,
            args,
            dict(kwargs),
            node.shape,
            node.dtype,
            helper=native or opdef.helper is not None,
            view=view,
            comment="" if target.startswith("_t") else _comment(node if origin is None else origin),
        )
        self.statements.append(statement)
        self.var[node.id] = target
        self.shapes[target], self.dtypes[target] = node.shape, node.dtype
        reads = [a[1] for a in args if a[0] == "var"]
        self.aliases[target] = (
            frozenset().union(*(self.aliases.get(r, frozenset()) for r in reads))
            if view
            else frozenset()
        )

    def _operand(self, value, user: Node) -> tuple:
        if isinstance(value, ShapeOf):
            return ("shape", self.var[value.node.id])
        if isinstance(value, SizeOf):
            return ("size", self.var[value.node.id], tuple(value.axes))
        if not isinstance(value, Node):
            return ("lit", value)
        if value.op != "const":
            return ("var", self.var[value.id])
        array = value.attrs["value"]
        floats = [i for i in user.inputs if i.op != "const" and i.dtype in FLOAT_DTYPES]
        # A Python number takes the dtype of the arrays it meets (NEP 50), so it may stand
        # in for the const only when the other operands already give the node's dtype.
        weak_ok = user.dtype == "bool" or (floats and result_dtype(*floats) == user.dtype)
        if array.ndim == 0 and np.isfinite(array) and weak_ok and array.dtype.kind in "fb":
            return ("lit", bool(array) if array.dtype.kind == "b" else float(array))
        return ("var", self.constant(value))


def _copy_shared_results(plan: Plan, schedule: _Scheduler, graph, names) -> None:
    """Give every kept or escaping result that is (or views) an argument or a constant a
    copy of its own: the caller may change what it gets back, and a training step updates
    params in place after the body, so a gradient that is another param must not follow."""
    copies: dict[str, str] = {}
    for k, name in enumerate(plan.results):
        if name not in plan.escaping | plan.keep or not schedule.aliases.get(name):
            continue
        if name not in copies:
            copy = schedule.namer.fresh(name, "copy")
            plan.statements.append(
                Statement(
                    copy,
                    "copy",
                    [("var", name)],
                    {},
                    plan.shapes[name],
                    plan.dtypes[name],
                    comment="not the caller's array",
                )
            )
            plan.shapes[copy], plan.dtypes[copy] = plan.shapes[name], plan.dtypes[name]
            copies[name] = copy
        plan.results[k] = copies[name]
    plan.escaping = {copies.get(v, v) for v in plan.escaping}
    plan.keep = {copies.get(v, v) for v in plan.keep}


def _comment(node: Node) -> str:
    label = REGISTRY[node.op].display(node)
    label = label if label.startswith(node.op) else f"{node.op} {label}"
    return f"{comment(label, 40)}  ({_site(node.site, node.scope)})"


@functools.lru_cache(maxsize=1024)  # the nodes a loop builds share their site
def _site(site: str | None, scope: str | None) -> str:
    """The user's file:line (and scope) of a node, as comment text."""
    path, _, line = (site or "").rpartition(":")
    where = f"{os.path.basename(path)}:{line}" if path else (site or "")
    return comment(f"{where} [{scope}]" if scope else where, 60)
