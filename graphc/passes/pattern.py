"""Rewrite rules as data, and the one driver that applies them.

A rule is `Rule(name, pattern, build)`: when `pattern` matches a node, `build(node=...,
**bindings)` returns the replacement (or None to decline). The driver `graph_rewrite`
guarantees what every rule must: a replacement has the static shape, dtype and symbolic
run-time shape of the node it replaces, or it is not used. So a rule may be written for
the values alone.

    Rule("mul_one", P("mul", X, ONE), lambda x, **_: x)   # x*1 -> x
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GraphError
from ..ir import Node, as_list, rebuild, topological_order
from ..ops.registry import apply, get
from .shapes import same_runtime_shape, shape_scope

_SCAN_LIMIT = 1 << 16  # consts bigger than this are never inspected element by element


def const_value(node: Node) -> np.ndarray | None:
    """The array of a small const, looking through broadcast_like; None otherwise."""
    while node.op == "broadcast_like":
        node = node.inputs[0]
    if node.op != "const" or node.attrs["value"].size > _SCAN_LIMIT:
        return None
    return node.attrs["value"]


def is_all(node: Node, number: float) -> bool:
    """True when every element of `node` is the constant `number` (a const or its broadcast)."""
    value = const_value(node)
    return value is not None and value.size > 0 and bool(np.all(value == number))


class P:
    """A node pattern: an op name (or a tuple of names, or None for any node), input patterns,
    an optional name to bind the node to and a predicate on the node (for attrs, values)."""

    __slots__ = ("ops", "inputs", "bind", "test")

    def __init__(
        self,
        op: str | tuple | None = None,
        *inputs: P,
        bind: str | None = None,
        test: Callable[[Node], bool] | None = None,
    ):
        self.ops = (op,) if isinstance(op, str) else op
        self.inputs, self.bind, self.test = inputs, bind, test

    def match(self, node: Node, env: dict[str, Node]) -> bool:
        """Match `node`, adding bindings to `env`; a name bound twice must be the same node."""
        if self.ops is not None and node.op not in self.ops:
            return False
        if self.test is not None and not self.test(node):
            return False
        if self.bind is not None:
            if self.bind in env and env[self.bind] is not node:
                return False
            env[self.bind] = node
        if not self.inputs:
            return True
        if len(self.inputs) != len(node.inputs):
            return False
        if self._match_inputs(node.inputs, env):
            return True
        return get(node.op).commutative and self._match_inputs(node.inputs[::-1], env)

    def _match_inputs(self, inputs: tuple[Node, ...], env: dict[str, Node]) -> bool:
        """Match the input patterns against `inputs` in order; `env` grows only on success."""
        trial = dict(env)
        for pattern, node in zip(self.inputs, inputs):
            if not pattern.match(node, trial):
                return False
        env.update(trial)
        return True


def var(name: str, test: Callable[[Node], bool] | None = None) -> P:
    """A pattern matching any node, bound to `name`."""
    return P(None, bind=name, test=test)


def number(value: float, name: str | None = None) -> P:
    """A pattern matching a const (or its broadcast) whose every element is `value`."""
    return P(None, bind=name, test=lambda n: is_all(n, value))


@dataclass(frozen=True)
class Rule:
    """One rewrite: a name shown in pass summaries, a pattern and a replacement builder."""

    name: str
    pattern: P
    build: Callable[..., Node | None]

    def apply(self, node: Node) -> Node | None:
        """The replacement of `node`, or None when the pattern does not match or declines."""
        env: dict[str, Node] = {}
        if not self.pattern.match(node, env):
            return None
        try:
            return self.build(node=node, **env)
        except GraphError:  # a replacement whose shapes do not fit: keep the node
            return None


def keeps_shape(old: Node, new: Node) -> bool:
    """A replacement must keep the dtype, the static and the run-time shape."""
    return new.dtype == old.dtype and same_runtime_shape(old, new)


def keep_name(old: Node, new: Node, existing: set[int]) -> Node:
    """The user's name for `old` stays on a freshly built replacement (renderings and
    generated code); a node already in the graph keeps its own, or it would be duplicated."""
    if old.name is None or new.name is not None or new.is_leaf or new.id in existing:
        return new
    return apply(
        new.op, *new.inputs, _name=old.name, _scope=new.scope, _site=new.site, **dict(new.attrs)
    )


def first_rewrite(node: Node, rules: Iterable[Rule]) -> tuple[Rule, Node] | None:
    """The first rule that rewrites `node` (with a shape-keeping result), and that result."""
    for rule in rules:
        new = rule.apply(node)
        if new is not None and new is not node and keeps_shape(node, new):
            return rule, new
    return None


class _RulesByOp:
    """The rules whose pattern can match a node of each op, in their order (built per op on
    first use): a node is tried only against those, not against every rule."""

    def __init__(self, rules: list[Rule]):
        self.rules, self.by_op = rules, {}

    def __getitem__(self, op: str) -> list[Rule]:
        if op not in self.by_op:
            self.by_op[op] = [r for r in self.rules if r.pattern.ops is None or op in r.pattern.ops]
        return self.by_op[op]


def _rewrite_node(
    old: Node,
    new: Node,
    rules: _RulesByOp,
    fired: Counter,
    existing: set[int],
    settled: set[int],
) -> Node:
    if new.id in settled:  # no rule matched it in an earlier sweep: nodes never change
        return new
    for _ in range(16):  # a node rarely needs more than a few rules in a row
        hit = first_rewrite(new, rules[new.op])
        if hit is None:
            settled.add(new.id)
            break
        fired[hit[0].name] += 1
        new = keep_name(new, hit[1], existing)
    return new


def graph_rewrite(
    outputs: Node | Iterable[Node], rules: list[Rule], max_sweeps: int = 50
) -> tuple[list[Node], Counter]:
    """Apply `rules` bottom-up until none applies; return the new outputs and how many times
    each rule fired (by rule name)."""
    outputs = as_list(outputs)
    fired: Counter = Counter()
    rules = _RulesByOp(rules)
    settled: set[int] = set()  # nodes no rule rewrites: a later sweep skips them
    with shape_scope():
        for _ in range(max_sweeps):
            before = sum(fired.values())
            order = topological_order(outputs)
            existing = {node.id for node in order}
            visit = functools.partial(
                _rewrite_node, rules=rules, fired=fired, existing=existing, settled=settled
            )
            outputs = rebuild(outputs, visit, order=order)
            if sum(fired.values()) == before:
                break
    return outputs, fired


def build(op: str, *inputs: Any, **attrs: Any) -> Node:
    """Build a replacement node (the raw op builder, for rule bodies)."""
    return apply(op, *inputs, **attrs)
