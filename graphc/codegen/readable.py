"""The model functions of the readable module: the forward pass one line per node of the
graph, then the backward pass in reverse order, one line per gradient with its chain-rule
step as a comment.

The backward pass is gc.grad's reverse mode written out: reverse.vjp applies the chain rule
(each node's cotangent dL/dv is the sum, over the nodes u that use v, of the op's vjp rule
applied to dL/du, summed down where v was broadcast) and its trace says which u made each
contribution; each contribution is spelled by readable_spelling.py as one NumPy expression
with dL/du * du/dv as its comment. Without a time loop the cotangents are first simplified
by graphc's passes, as the backward picture draws them (readable_backward.py); a time
loop's backward (readable_loop_backward.py) writes reverse mode's own terms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..diff.reverse import depends_on, vjp
from ..ir import Node, topological_order
from ..ops.registry import REGISTRY
from .names import Namer, comment
from .readable_spelling import Spelling

WIDTH = 96  # longer gradient sums are split into one term per line


@dataclass
class Body:
    """The lines of one model function and what they computed (node id -> variable)."""

    lines: list[str] = field(default_factory=list)
    var: dict[int, str] = field(default_factory=dict)
    passes: set[int] = field(default_factory=set)  # nodes that pass an input through
    text: dict[int, str] = field(default_factory=dict)  # the forward expression, if short
    loop: object = None  # the time loop of the forward lines (readable_loop.Loop), if any


def unpack_lines(leaves: Sequence[Node], var: dict[int, str]) -> list[str]:
    """`x, y = batch["x"], batch["y"]`-style lines reading the leaves (a few per line)."""
    source = {"input": "batch", "param": "params", "state": "stats"}

    def line(group):
        names = ", ".join(var[n.id] for n in group)
        return f"{names} = " + ", ".join(f"{source[n.op]}[{n.name!r}]" for n in group)

    lines, group = [], []
    for leaf in leaves:
        if group and len(line([*group, leaf])) > WIDTH - 4:
            lines.append(line(group))
            group = []
        group.append(leaf)
    return lines + ([line(group)] if group else [])


def forward_lines(order: Sequence[Node], body: Body, namer: Namer, spelling: Spelling) -> None:
    """One line per op node of `order` (leaves already named in body.var)."""
    for node in order:
        if node.id not in body.var and node.op != "const":
            forward_line(node, body, spelling, namer.fresh(node.name, node.op))


def forward_line(node: Node, body: Body, spelling: Spelling, var: str) -> None:
    """The line setting `var` to `node` from the variables of its inputs (a const with a
    variable, the initial state of a loop, is read from it; other consts are written in
    place); a node that passes an input through gets that input's variable, no line."""
    operands = [i for i in node.inputs if i.op != "const" or i.id in body.var]
    pre, expr = spelling.op_lines(node, operands, body.var)
    for operand in operands:
        if expr == body.var[operand.id] and not pre:  # passes an input through
            body.var[node.id] = expr
            body.passes.add(node.id)
            return
    body.var[node.id] = var
    decomposed = REGISTRY[node.op].array_fn is None
    note = f"  # {node.op}" if decomposed and node.op not in expr else ""
    body.lines += pre + [f"{var} = {expr}{note}"]
    if len(re.sub(r"\[t( - 1)?\]", "", expr)) <= 24 and not pre:  # v[t] counts as v
        body.text[node.id] = expr


@dataclass
class Reverse:
    """What the backward pass reads: reverse.vjp's trace (forward node id -> its cotangent
    and the (user, contribution) pairs summed into it), the nodes on a path from a param,
    the cotangent variable of each node written so far, and how to name and spell."""

    trace: dict
    live: set[int]
    cotangent: dict[int, str]
    namer: Namer
    spelling: Spelling


def backward_lines(
    loss: Node, params: Sequence[Node], body: Body, namer: Namer, spelling: Spelling
) -> dict[int, str]:
    """The backward pass from `loss` to every param, appended to body.lines; the variable
    of each param's gradient by param id. Reverse mode (diff/reverse.py) applies the chain
    rule; its trace says which user's rule made each contribution, and each is spelled as
    one NumPy expression with its chain-rule step as the comment. The steps of a time loop
    (readable_loop.py) run backward in a loop of their own (readable_loop_backward.py)."""
    from .readable_loop_backward import backward_order

    order = topological_order(loss)
    trace: dict = {}
    vjp([loss], [1.0], params, trace)
    live = depends_on(order, params, differentiably=True)
    if body.loop is None:  # the backward picture's graph, one line per cotangent node
        from .readable_backward import simplified_backward

        rev = Reverse(trace, live, {}, namer, spelling)
        grads = simplified_backward(loss, order, params, body, rev)
        for p in params:
            if p.id not in grads:  # no path from this param to the loss
                grads[p.id] = namer.fresh(f"dL_d{body.var[p.id]}")
                body.lines.append(f"{grads[p.id]} = np.zeros_like({body.var[p.id]})  # not used")
        return grads
    seed_var = namer.fresh(f"dL_d{body.var[loss.id]}")
    body.lines.append(f"{seed_var} = 1.0  # dL/dL")
    rev = Reverse(trace, live, {}, namer, spelling)
    rev.cotangent[loss.id] = seed_var
    grads: dict[int, str] = {}
    extra: dict[int, list[tuple[str, str]]] = {}  # node id -> (variable, chain) parts written
    for node in backward_order(order, body, rev, extra):
        if node is not loss:
            var = cotangent_line(node, body, rev, extra.get(node.id, ()))
            if var is None:
                continue
            rev.cotangent[node.id] = var
        if node.op == "param":
            grads[node.id] = rev.cotangent[node.id]
    for p in params:
        if p.id not in grads:  # no path from this param to the loss
            grads[p.id] = namer.fresh(f"dL_d{body.var[p.id]}")
            body.lines.append(f"{grads[p.id]} = np.zeros_like({body.var[p.id]})  # not used")
    return grads


def cotangent_line(node: Node, body: Body, rev: Reverse, extra=(), var: str | None = None):
    """Lines setting dL/dnode (in `var`, or a fresh variable) to the sum of the
    contributions of its users that have cotangents and of the `extra` (variable, chain)
    parts; the variable holding it, or None when there is nothing to sum. A lone extra
    part is its own variable, no line."""
    if node.id not in rev.live or node.id not in rev.trace or node.id in body.passes:
        return None
    parts = spelled_parts(node, body, rev)
    parts += [([], v, chain) for v, chain in extra]
    if not parts:
        return None
    if len(parts) == 1 and not parts[0][0] and var is None and extra:
        return parts[0][1]
    return sum_line(node, parts, body, rev.namer, var)


def spelled_parts(node: Node, body: Body, rev: Reverse, skip=frozenset()) -> list:
    """(lines first, expression, chain-rule step) of each contribution to dL/dnode from its
    users that have cotangent variables (but those in `skip`, by id)."""
    return [
        (
            *_spelled(user, part, rev.trace, body, rev.cotangent, rev.spelling),
            _chain(user, node, body),
        )
        for user, part in _contributions(node, rev.trace, body, rev.cotangent)
        if user.id not in skip
    ]


def _contributions(node: Node, trace: dict, body: Body, cotangent: dict[int, str]):
    """(user, contribution) pairs of `node`'s cotangent that the backward pass writes: from
    users with a cotangent line; a user that passes its input through (no line of its own)
    hands on its own contributions."""
    for user, part in trace[node.id][1]:
        if user is not None and user.id in body.passes:
            yield from _contributions(user, trace, body, cotangent)
        elif user is not None and user.id in cotangent:
            yield user, part


def _spelled(user, part, trace, body, cotangent, spelling) -> tuple[list[str], str]:
    """(lines first, expression) of a contribution made by `user`'s vjp rule, read from the
    user's cotangent, the user and its inputs (consts stay in the expression)."""
    operands = [user, *(i for i in user.inputs if i.op != "const" or i.id in body.var)]
    names = {n.id: body.var[n.id] for n in operands}
    names[trace[user.id][0].id] = cotangent[user.id]  # two users' cotangents may be one node
    operands = list(dict.fromkeys([trace[user.id][0], *operands]))
    return spelling.op_lines(part, operands, names)


def _chain(user: Node, x: Node, body: Body) -> str:
    """The chain-rule step of one contribution: dL/du * du/dx, in the graph's names."""
    u, v = shown(body.var[user.id]), shown(body.var[x.id])
    operands = [shown(body.var[i.id]) for i in user.inputs if i.op != "const" or i.id in body.var]
    if REGISTRY[user.op].array_fn is None:  # an op the reader knows by its name
        if len(operands) == 1:
            return f"dL/d{u} * {user.op}'({v})"
        return f"dL/d{u} * d{user.op}({', '.join(operands)})/d{v}"
    expr = f"({shown(body.text[user.id])})" if user.id in body.text else u
    return f"dL/d{u} * d{expr}/d{v}"


def shown(var: str) -> str:
    """A variable as a comment names it: `v[t]`, v at the loop's step t, is v."""
    return var.replace("[t]", "")


def sum_line(node: Node, parts, body: Body, namer: Namer, var: str | None = None) -> str:
    """Lines setting dL/dnode to the sum of its parts, with the chain rule as comment."""
    name = shown(body.var[node.id])
    var = var or namer.fresh(f"dL_d{name}")
    rule = comment(f"dL/d{name} = " + " + ".join(p[2] for p in parts), 200)
    for pre, _, _ in parts:
        body.lines += pre
    terms = [p[1] for p in parts]
    line = f"{var} = {' + '.join(terms)}"
    if len(line) + len(rule) + 4 <= WIDTH:
        body.lines.append(f"{line}  # {rule}")
        return var
    body.lines.append(f"# {rule}")  # the chain rule above a line that is long already
    if len(line) <= WIDTH or len(terms) == 1:
        body.lines.append(line)
        return var
    body.lines.append(f"{var} = {terms[0]}")
    body.lines += [f"{var} = {var} + {t}" for t in terms[1:]]
    return var
