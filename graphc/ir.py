"""The IR: frozen nodes, graphs defined by their outputs, traversal and substitution.

A leaf of graphc: it imports nothing from the rest of graphc but its exception family
(`errors.py`, which imports nothing); the op library builds on it (tests/test_imports.py).

A `Node` is immutable: an op name, input nodes, attributes, a static shape (a `None`
entry is the batch dimension), a dtype, an optional user name, the scope it was
created in and the user's file:line that created it. Nodes compare by identity;
`structural_key` gives the value-based key that common-subexpression elimination uses.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import DuplicateNameError, GraphError

Shape = tuple  # tuple[int | None, ...]

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(__file__), "..", "visual", "x"))
)
_counter = itertools.count()
_scope: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("scope", default=())


@functools.lru_cache(maxsize=4096)
def _is_internal(path: str) -> bool:
    # contextlib runs the body of `with gc.scope(...)` up to its yield: the user's line is
    # the with statement's, one frame further out
    return path.startswith(_PACKAGE_DIRS) or "importlib" in path or path == contextlib.__file__


_site_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("site", default=None)
_moves: contextvars.ContextVar[dict[int, Node] | None] = contextvars.ContextVar(
    "moves", default=None
)


@contextlib.contextmanager
def site_as(where: str):
    """Within the block, nodes are made at `where` (a loaded file's node, not a Python line;
    the line of the forward node a derivative rule differentiates)."""
    token = _site_override.set(where)
    try:
        yield
    finally:
        _site_override.reset(token)


@contextlib.contextmanager
def track_moves() -> Iterator[dict[int, Node]]:
    """Within the block, every rebuild records the node that took each node's place (old
    id -> new node): a caller follows its nodes through passes with `moved`."""
    moves: dict[int, Node] = {}
    token = _moves.set(moves)
    try:
        yield moves
    finally:
        _moves.reset(token)


def moved(moves: dict[int, Node], node_id: int) -> int:
    """The id of the node that took the place of node `node_id`, after every move."""
    while node_id in moves:
        node_id = moves[node_id].id
    return node_id


def check_name_characters(name: str, what: str) -> str:
    """Refuse a name holding a control character or a backslash: drawings (Graphviz reads
    backslashes as escapes) and generated code would show something else, or break."""
    bad = next((c for c in name if c == "\\" or not c.isprintable()), None)
    if bad is not None:
        raise GraphError(
            f"{user_site()}: {what} {name!r} holds {bad!r}; names may not hold control "
            "characters or backslashes"
        )
    return name


def user_site() -> str:
    """Return 'file:line' of the innermost caller outside graphc (where the user built a node)."""
    override = _site_override.get()
    if override is not None:
        return override
    frame = sys._getframe(1)
    while frame is not None:
        if not _is_internal(frame.f_code.co_filename):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<graphc>"


@contextlib.contextmanager
def scope(name: str):
    """Group the nodes created inside the block under `name` (nested scopes join with '/')."""
    if not isinstance(name, str) or not name:
        raise GraphError(f"{user_site()}: scope name must be a non-empty string, got {name!r}")
    check_name_characters(name, "scope name")
    token = _scope.set(_scope.get() + (name,))
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> str | None:
    """Return the active scope path, or None outside any `scope` block."""
    parts = _scope.get()
    return "/".join(parts) if parts else None


def _freeze(value: Any) -> Any:
    """Make an attribute value immutable: lists become tuples, arrays become read-only."""
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flags.writeable = False
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _attr_key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, tuple):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


class Node:
    """One operation in a graph. Immutable; build nodes with the `graphc` functions."""

    __slots__ = (
        "op",
        "inputs",
        "attrs",
        "shape",
        "dtype",
        "name",
        "scope",
        "site",
        "id",
        "structural_key",
        "__weakref__",
    )

    def __init__(
        self,
        op: str,
        inputs: Iterable[Node],
        attrs: Mapping[str, Any],
        shape: Shape,
        dtype: str,
        name: str | None = None,
        scope: str | None = None,
        site: str | None = None,
    ):
        inputs = tuple(inputs)
        attrs = MappingProxyType({k: _freeze(v) for k, v in sorted(attrs.items())})
        key = (
            op,
            tuple(i.id for i in inputs),
            tuple((k, _attr_key(v)) for k, v in attrs.items()),
            dtype,
        )
        if op in LEAF_OPS:  # two leaves are the same leaf only if they are the same object
            key = key + (name, next(_counter))
        init = object.__setattr__  # past the immutability guard, once per slot
        init(self, "op", op)
        init(self, "inputs", inputs)
        init(self, "attrs", attrs)
        init(self, "shape", tuple(shape))
        init(self, "dtype", dtype)
        init(self, "name", name)
        init(self, "scope", scope)
        init(self, "site", site or user_site())
        init(self, "id", next(_counter))
        init(self, "structural_key", key)

    def __setattr__(self, key, value):
        raise AttributeError("graphc nodes are immutable; build a new node instead")

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Node {self.op}{label} shape={self.shape} dtype={self.dtype} at {self.site}>"

    def __bool__(self):
        raise GraphError(f"a graph node has no truth value (use gc.where for conditions): {self!r}")

    def __iter__(self):
        raise TypeError(f"a graph node is not iterable: {self!r}")

    __hash__ = object.__hash__  # == stays identity (nodes are dict keys); use gc.equal

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_leaf(self) -> bool:
        return self.op in LEAF_OPS

    # The operators (`x @ W + b`), `.T`, `x[..., k]`, NumPy's ufunc protocol and
    # `with_inputs` build nodes of registered ops: graphc/ops/operators.py installs them, as
    # JAX's lax installs the Tracer's methods. Jupyter's display is visual's (visual/show.py).


# The ops whose OpDef says `leaf=True`; `ops.registry.register` fills it (the IR cannot
# import the registry, which builds on it).
LEAF_OPS: set[str] = set()


class Nodes(list):
    """A list of nodes that graphc returns (gc.grad's gradients): a plain list that `visual`
    shows as the graph of its nodes in Jupyter."""


def as_list(outputs: Node | Iterable[Node]) -> list[Node]:
    """Accept one node or an iterable of nodes; return a list of nodes."""
    items = [outputs] if isinstance(outputs, Node) else list(outputs)
    for item in items:
        if not isinstance(item, Node):
            raise GraphError(f"expected a graph node, got {type(item).__name__}: {item!r}")
    return items


_orders: contextvars.ContextVar[dict[tuple, list[Node]] | None] = contextvars.ContextVar(
    "orders", default=None
)


@contextlib.contextmanager
def remember_orders() -> Iterator[None]:
    """Within the block, topological_order remembers what it found: nodes never change, so
    the same outputs always have the same order, and a pipeline of passes asks for it again
    and again (50 times for 13 graphs in a 20,000-node export). An inner block shares the
    outer one's memory, which ends with the outermost block."""
    if _orders.get() is not None:
        yield
        return
    token = _orders.set({})
    try:
        yield
    finally:
        _orders.reset(token)


def topological_order(outputs: Node | Iterable[Node]) -> list[Node]:
    """All nodes reachable from `outputs`, inputs before users, in a deterministic order
    (a fresh list: callers may change it).

    Iterative depth-first post-order, so a 20,000-node chain needs no recursion.
    """
    roots = as_list(outputs)
    memo = _orders.get()
    if memo is None:
        return _depth_first(roots)
    key = tuple(root.id for root in roots)
    if key not in memo:
        memo[key] = _depth_first(roots)
    return list(memo[key])


def _depth_first(roots: list[Node]) -> list[Node]:
    order: list[Node] = []
    done: set[int] = set()
    finish, mark = order.append, done.add  # bound once: this loop runs per edge of the graph
    for root in roots:
        if root.id in done:
            continue
        # the stack is a path from the root, each node with an iterator over its inputs: a
        # node is pushed once, since a DAG never reaches a node on the path again
        stack = [(root, iter(root.inputs))]
        push, pop = stack.append, stack.pop
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if child.id in done:
                    continue
                if not child.inputs:  # a leaf finishes at once: the order of pushing it
                    mark(child.id)
                    finish(child)
                    continue
                push((child, iter(child.inputs)))
                break
            else:
                pop()
                mark(node.id)
                finish(node)
    return order


def leaves(outputs: Node | Iterable[Node], *ops: str) -> list[Node]:
    """The leaves of the graph (optionally only those of the given ops); refuses name clashes."""
    found: list[Node] = []
    by_name: dict[str, Node] = {}
    for node in topological_order(outputs):
        if not node.is_leaf:
            continue
        if node.name is None:  # a const: its value is in the graph, so no name to clash
            if not ops or node.op in ops:
                found.append(node)
            continue
        other = by_name.setdefault(node.name, node)
        if other is not node:
            raise DuplicateNameError(
                f"two different {other.op}/{node.op} leaves are both named {node.name!r}: "
                f"one made at {other.site}, the other at {node.site}"
            )
        if not ops or node.op in ops:
            found.append(node)
    return found


def users(outputs: Node | Iterable[Node]) -> dict[int, list[Node]]:
    """Map each node id to the nodes that use it as an input."""
    result: dict[int, list[Node]] = {}
    for node in topological_order(outputs):
        result.setdefault(node.id, [])
        for child in node.inputs:
            result.setdefault(child.id, []).append(node)
    return result


def rebuild(
    outputs: Node | Iterable[Node],
    visit: Callable[[Node, Node], Node] | None = None,
    replace: Mapping[Node, Node] | None = None,
    order: list[Node] | None = None,
) -> list[Node]:
    """Rebuild the graph of `outputs` bottom-up: the one walker every transform uses.

    Each node in `replace` becomes its image as it is; every other node is copied with its
    already-rebuilt inputs (or kept when none changed), then `visit(old, new)` may return
    another node to use in its place; what it builds cites the line that built `old`.
    Untouched parts of the graph are shared, not copied. `order` is
    `topological_order(outputs)` when the caller has computed it already.
    """
    images: dict[int, Node] = {old.id: new for old, new in (replace or {}).items()}
    image = images.get
    for node in topological_order(outputs) if order is None else order:
        if node.id in images:
            continue
        new = node
        for child in node.inputs:
            if image(child.id, child) is not child:  # copied only when an input changed
                new = node.with_inputs([image(i.id, i) for i in node.inputs])
                break
        if visit is not None:
            token = _site_override.set(node.site)
            try:
                new = visit(node, new)
            finally:
                _site_override.reset(token)
        if new is not node:
            images[node.id] = new
    moves = _moves.get()
    if moves is not None:
        moves.update(images)
    return [image(o.id, o) for o in as_list(outputs)]


def substitute(outputs: Node | Iterable[Node], mapping: Mapping[Node, Node]) -> list[Node]:
    """Rebuild `outputs` with each node in `mapping` replaced by its image."""
    return rebuild(outputs, replace=mapping)


def to_networkx(outputs: Node | Iterable[Node]):
    """The graph as a `networkx.DiGraph` keyed by node id (attributes: op, shape, dtype, name)."""
    import networkx as nx  # only here: it would add a quarter to `import graphc`

    graph = nx.DiGraph()
    for node in topological_order(outputs):
        graph.add_node(
            node.id,
            op=node.op,
            shape=node.shape,
            dtype=node.dtype,
            name=node.name,
            scope=node.scope,
            node=node,
        )
        for position, child in enumerate(node.inputs):
            graph.add_edge(child.id, node.id, position=position)
    return graph
