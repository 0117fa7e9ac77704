"""Symbolic run-time shapes: which nodes are sure to have the same shape when the graph runs.

A static shape says little about a None dimension. Here each dimension is an int (known
statically) or a symbol `(node id, axis)` naming the node whose run-time size it copies, so
two nodes whose symbolic shapes are equal have the same shape in every run. Passes use this
to drop a `broadcast_like` that does nothing and to point shape-only uses at cheaper nodes.

Assumption (graphc's meaning of None): where None dimensions of two inputs meet in one
broadcasting op, they are the same batch size, so their symbols are unified (union-find).
A batch of 1 broadcast against a batch of N through a None axis is outside what the passes
preserve.
"""

from __future__ import annotations

import weakref

from ..ir import Node

Term = int | tuple  # an int, or ("dim", node_id, axis)

# Ops whose inputs broadcast (right-aligned) into the output, elementwise.
BROADCASTING = frozenset(
    {
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "maximum",
        "prelu",
        "where",
        "select_mode",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "equal",
        "neg",
        "exp",
        "log",
        "sqrt",
        "abs",
        "sign",
        "tanh",
        "sigmoid",
        "relu",
        "softplus",
        "softmax",
        "log_softmax",
        "dropout_mask",
        "prelu_vjp_x",
        "softmax_xent_grad",
    }
)

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PARENT: dict[tuple, tuple] = {}  # union-find over symbols known to be the same size


def _find(term: Term) -> Term:
    if isinstance(term, int):
        return term
    root = term
    while root in _PARENT:
        root = _PARENT[root]
    while term != root:  # path compression
        _PARENT[term], term = root, _PARENT[term]
    return root


def _union(a: Term, b: Term) -> None:
    a, b = _find(a), _find(b)
    if a != b:
        _PARENT[max(a, b)] = min(a, b)  # the older symbol (smaller id) stays the root


def runtime_shape(node: Node) -> tuple[Term, ...]:
    """The symbolic run-time shape of `node` (memoized; no recursion on long chains)."""
    stack = [node]
    while stack:
        top = stack[-1]
        if top in _CACHE:
            stack.pop()
            continue
        missing = [i for i in top.inputs if i not in _CACHE]
        if missing:
            stack.extend(missing)
            continue
        _CACHE[top] = _compute(top)
        stack.pop()
    return tuple(_find(t) for t in _CACHE[node])


def same_runtime_shape(a: Node, b: Node) -> bool:
    """True when `a` and `b` have the same shape in every run of the graph."""
    return a.shape == b.shape and runtime_shape(a) == runtime_shape(b)


def _fresh(node: Node, axis: int) -> Term:
    return ("dim", node.id, axis)


def _known(node: Node, terms: list) -> tuple[Term, ...]:
    """Fill statically known dims; unknown ones keep the given term or become fresh."""
    return tuple(
        d if d is not None else (t if t is not None and not isinstance(t, int) else _fresh(node, a))
        for a, (d, t) in enumerate(zip(node.shape, terms))
    )


def _broadcast(node: Node, inputs: tuple[Node, ...]) -> list:
    terms = []
    for axis in range(node.ndim):
        back = node.ndim - axis
        found = None
        for x in inputs:
            if x.ndim >= back and not isinstance(runtime_shape(x)[-back], int):
                if found is None:
                    found = runtime_shape(x)[-back]
                else:
                    _union(found, runtime_shape(x)[-back])
        terms.append(found)
    return terms


def _compute(node: Node) -> tuple[Term, ...]:
    op, xs, attrs = node.op, node.inputs, node.attrs
    if node.is_leaf or None not in node.shape:
        return _known(node, [None] * node.ndim)
    if op in BROADCASTING:
        return _known(node, _broadcast(node, xs))
    first = runtime_shape(xs[0]) if xs else ()
    if op in ("broadcast_like",):
        return _known(node, list(runtime_shape(xs[1])))
    if op in ("sum", "logsumexp", "target_log_prob"):
        axes = attrs["axis"] if op == "sum" else (attrs["axis"],)
        if attrs.get("keepdims"):
            return _known(node, [1 if a in axes else t for a, t in enumerate(first)])
        return _known(node, [t for a, t in enumerate(first) if a not in axes])
    if op == "matmul":
        a, b = (runtime_shape(x) for x in xs)
        return _known(node, list(a[:-1] + b[1:]))
    if op == "transpose":
        return _known(node, [first[a] for a in attrs["axes"]])
    if op == "expand_dims":
        terms = list(first)
        for a in attrs["axis"]:
            terms.insert(a, 1)
        return _known(node, terms)
    if op == "index_last":
        return _known(node, list(first[:-1]))
    if op == "one_hot":
        return _known(node, list(first) + [attrs["depth"]])
    if op in ("sum_to", "prelu_vjp_alpha"):  # a kept None axis keeps the input's size
        return _known(node, _broadcast(node, xs))
    if op in ("update_state", "reshape") and xs[0].shape == node.shape:
        return _known(node, list(first))  # a reshape to the same static shape keeps sizes
    return _known(node, [None] * node.ndim)
