"""Common-subexpression elimination: one node per distinct computation.

Walk in topological order with inputs already merged; a node's `structural_key` (op, input
ids, attrs, dtype) then names its computation, so the first node with a key stands for all
later ones. Equal consts merge by value; commutative ops (`OpDef.commutative`: add, mul,
equal) ignore their input order. Inputs, params and state never merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..ir import Node, as_list, rebuild
from ..ops.registry import get

_CONST_KEY_LIMIT = 1 << 20  # bytes: bigger consts are compared by identity only


def computation_key(node: Node) -> tuple:
    """The key under which two nodes compute the same value."""
    if node.op == "const":
        value = node.attrs["value"]
        if value.nbytes <= _CONST_KEY_LIMIT:
            return ("const", value.dtype.str, value.shape, value.tobytes())
        return node.structural_key
    key = node.structural_key
    if get(node.op).commutative:
        return (key[0], tuple(sorted(key[1])), *key[2:])
    return key


def eliminate_common_subexpressions(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Merge nodes that compute the same value; return the new outputs and {"merged": n}."""
    first: dict[tuple, Node] = {}
    merged = 0

    def visit(old: Node, new: Node) -> Node:
        nonlocal merged
        kept = first.setdefault(computation_key(new), new)
        merged += kept is not new
        return kept

    return rebuild(as_list(outputs), visit), Counter(merged=merged)
