"""Symbolic run-time shapes: which nodes are sure to have the same shape when the graph runs.

A static shape says little about a None dimension. Here each dimension is an int (known
statically) or a symbol `(node id, axis)` naming the node whose run-time size it copies, so
two nodes whose symbolic shapes are equal have the same shape in every run. Passes use this
to drop a `broadcast_like` that does nothing and to point shape-only uses at cheaper nodes.

Assumption (graphc's meaning of None): where None dimensions of two inputs meet in one
broadcasting op, they are the same batch size, so their symbols are unified (union-find).
A batch of 1 broadcast against a batch of N through a None axis is outside what the passes
preserve.

How an op's output sizes follow its inputs' is the op's `OpDef.runtime_shape`. What is
learned (the memo and the unified symbols) lives in one `shape_scope`: each pass opens one
for its run, so nothing outlives it; calls outside any scope share one bounded default.
"""

from __future__ import annotations

import contextlib
import contextvars

from ..ir import Node
from ..ops.registry import BROADCAST, get

Term = int | tuple  # an int, or ("dim", node_id, axis)
_DEFAULT_LIMIT = 1 << 16  # symbols (or shapes) the default scope keeps before starting afresh


class _Symbols:
    """The memo of symbolic shapes and the union-find over symbols known to be one size."""

    def __init__(self):
        # by node id (ids are never reused): a plain dict, which a 20k-node pass probes
        # hundreds of thousands of times, where a WeakKeyDictionary's lookups run in Python
        self.memo: dict[int, tuple[Term, ...]] = {}
        self.parent: dict[tuple, tuple] = {}

    def find(self, term: Term) -> Term:
        if isinstance(term, int):
            return term
        parent, root = self.parent, term
        while root in parent:
            root = parent[root]
        while term != root:  # path compression
            parent[term], term = root, parent[term]
        return root

    def union(self, a: Term, b: Term) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)  # the older symbol (smaller id) stays the root


_DEFAULT = _Symbols()
_SCOPE: contextvars.ContextVar[_Symbols | None] = contextvars.ContextVar("shapes", default=None)


@contextlib.contextmanager
def shape_scope():
    """Share symbolic shapes within the block (one pass run); a nested scope joins the outer."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set(_Symbols())
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _symbols() -> _Symbols:
    global _DEFAULT
    scoped = _SCOPE.get()
    if scoped is not None:
        return scoped
    if len(_DEFAULT.parent) > _DEFAULT_LIMIT or len(_DEFAULT.memo) > _DEFAULT_LIMIT:
        _DEFAULT = _Symbols()
    return _DEFAULT


def runtime_shape(node: Node) -> tuple[Term, ...]:
    """The symbolic run-time shape of `node` (memoized; no recursion on long chains)."""
    symbols = _symbols()
    memo = symbols.memo
    stack = [node]
    while stack:
        top = stack[-1]
        if top.id in memo:
            stack.pop()
            continue
        missing = [i for i in top.inputs if i.id not in memo]
        if missing:
            stack.extend(missing)
            continue
        memo[top.id] = _compute(top, symbols)
        stack.pop()
    return tuple(symbols.find(t) for t in memo[node.id])


def same_runtime_shape(a: Node, b: Node) -> bool:
    """True when `a` and `b` have the same shape in every run of the graph."""
    return a.shape == b.shape and runtime_shape(a) == runtime_shape(b)


def _known(node: Node, terms) -> tuple[Term, ...]:
    """Fill statically known dims; unknown ones keep the given term or become fresh."""
    return tuple(
        d
        if d is not None
        else (t if t is not None and not isinstance(t, int) else ("dim", node.id, a))
        for a, (d, t) in enumerate(zip(node.shape, terms))
    )


def _broadcast(node: Node, inputs: list[tuple[Term, ...]], symbols: _Symbols) -> list:
    terms = []
    for axis in range(node.ndim):
        back = node.ndim - axis
        found = None
        for dims in inputs:
            if len(dims) >= back and not isinstance(dims[-back], int):
                if found is None:
                    found = dims[-back]
                else:
                    symbols.union(found, dims[-back])
        terms.append(found)
    return terms


def _compute(node: Node, symbols: _Symbols) -> tuple[Term, ...]:
    if node.is_leaf or None not in node.shape:
        return _known(node, [None] * node.ndim)
    rule = get(node.op).runtime_shape
    inputs = [tuple(symbols.find(t) for t in symbols.memo[x.id]) for x in node.inputs]
    if rule == BROADCAST:
        return _known(node, _broadcast(node, inputs, symbols))
    terms = rule(node, *inputs) if callable(rule) else None
    return _known(node, [None] * node.ndim if terms is None else list(terms))
