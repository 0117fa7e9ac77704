"""The readable module's backward pass as the backward picture draws it: reverse mode's
cotangents (diff/reverse.py, with its trace of the chain rule) simplified by graphc's own
passes (`gc.optimize`: constants folded, equal terms merged, the softmax cross-entropy's and
PReLU's rules fused), then one line per node of the simplified gradient graph that is some
forward node's cotangent (`dL_dlogits = (softmax - one_hot) / N`, `dL_dW = 0.0002 * W + ...`)
or that several lines read; the rest of a node's graph is spelled inside its line.

Each cotangent line keeps its chain-rule step as the comment: dL/dv as the sum over v's users
u of dL/du * du/dv, where a user whose cotangent the passes folded or fused away (no line of
its own) is followed up to the nearest cotangent that has one (or the loss).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Node, rebuild, topological_order
from ..ops.composite import COMPOSITE_SCOPES
from ..ops.leaves import input as input_leaf
from ..passes.pipeline import optimize
from .readable import Body, Reverse, _chain, shown, sum_line


def simplified_backward(
    loss: Node, order: Sequence[Node], params: Sequence[Node], body: Body, rev: Reverse
) -> dict[int, str]:
    """Lines computing each param's gradient from the simplified gradient graph, appended to
    body.lines; the variable of each param's gradient by param id (absent: no path)."""
    targets = [
        n
        for n in reversed(order)
        if n.id in rev.trace and n.id in rev.live and n.id not in body.passes and n is not loss
    ]
    # the forward values computed from the params are leaves to the passes, so that they
    # simplify the backward only and each such value a gradient reads is the forward line's
    # variable; what the params do not reach (the labels' one-hot rows) they still see whole,
    # to fuse softmax cross-entropy's rule
    held: dict[Node, Node] = {}
    ids: set[int] = set()
    for n in order:
        reached = n.id in rev.live or any(i.id in ids for i in n.inputs)
        if n.id in body.var and not n.is_leaf and reached:
            held[n] = input_leaf(f"v{n.id}", n.shape, n.dtype)
            ids.add(n.id)
    totals = rebuild([rev.trace[n.id][0] for n in targets], replace=held)
    simplified = optimize(totals).outputs
    cotangent_of: dict[int, Node] = {}  # simplified node id -> the forward node it is dL/d of
    for node, value in zip(targets, simplified):
        cotangent_of.setdefault(value.id, node)
    value_of = {node.id: value for node, value in zip(targets, simplified)}
    wanted = [value_of[p.id] for p in params if p.id in value_of]
    names = dict(body.var) | {leaf.id: body.var[n.id] for n, leaf in held.items()}
    needed = [n for n in topological_order(wanted) if n.id not in names]
    uses: dict[int, int] = {}
    for node in needed:
        for i in node.inputs:
            uses[i.id] = uses.get(i.id, 0) + 1
    ends = {w.id for w in wanted}
    users: dict[int, list[Node]] = {}
    for n in order:
        for i in n.inputs:
            users.setdefault(i.id, []).append(n)
    written = _Written(body, rev, value_of, names, users, {})
    computed = {  # the forward lines' expressions: a value computed there is read by name
        found[2]: found[1] for line in body.lines if (found := _ASSIGNMENT.match(line))
    }
    for node in needed:
        if node.op == "const" and node.id not in ends:
            continue  # written where it is used (a gradient that is a constant: its own line)
        forward = cotangent_of.get(node.id)
        if forward is None and uses.get(node.id, 0) < 2 and node.id not in ends:
            continue  # spelled inside the line of the node that reads it
        spelled = rev.spelling.op_lines(node, _operands(node, names), names)
        pre, expr = _reuse(*spelled, computed)
        if forward is not None:
            var = rev.namer.fresh(f"dL_d{shown(body.var[forward.id])}")
            rule = " + ".join(_terms(forward, written))
            sum_line(forward, [(pre, expr, rule)], body, rev.namer, var)
            rev.cotangent[forward.id] = var
            written.labels[node.id] = shown(body.var[forward.id])
        else:
            var = rev.spelling.fresh(node.op)
            body.lines += [*pre, f"{var} = {expr}"]
        names[node.id] = var
    return {p.id: names[value_of[p.id].id] for p in params if p.id in value_of}


_ASSIGNMENT = re.compile(r"^(\w+) = (.+?)(?:  # [^#]*)?$")


def _reuse(pre: list[str], expr: str, computed: dict[str, str]) -> tuple[list[str], str]:
    """The lines and expression of a node with the values the model function computed
    already (the labels' one-hot rows, which a fused rule builds from the class ids) read
    from their variables; the lines left are remembered in `computed` too."""
    kept, renamed = [], []
    for line in pre:
        var, text = line.split(" = ", 1)
        for old, new in renamed:
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
        if text in computed:
            renamed.append((var, computed[text]))
        else:
            computed[text] = var
            kept.append(f"{var} = {text}")
    for old, new in renamed:
        expr = re.sub(rf"\b{re.escape(old)}\b", new, expr)
    return kept, expr


def _operands(node: Node, names: dict[int, str]) -> list[Node]:
    """The nodes below `node` that hold variables already (forward values, written
    cotangents), not looking past them; the line reads them by name."""
    found, seen, stack = [], {node.id}, list(node.inputs)
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if n.id in names:
            found.append(n)
        else:
            stack.extend(n.inputs)
    return found


@dataclass
class _Written:
    """What the comments read: the forward graph's users, each forward node's simplified
    cotangent, and the variables written so far (node id -> name)."""

    body: Body
    rev: Reverse
    value_of: dict[int, Node]
    names: dict[int, str]
    users: dict[int, list[Node]]
    labels: dict[int, str]  # simplified node id -> the forward node its line is dL/d of

    def has_line(self, node: Node) -> bool:
        """Whether dL/dnode has a variable (its simplified node has been written)."""
        value = self.value_of.get(node.id)
        return value is not None and value.id in self.names

    def name(self, node: Node) -> str:
        return shown(self.body.var[node.id])


def _terms(node: Node, w: _Written) -> list[str]:
    """The chain rule's terms of dL/dnode, in the graph's names: dL/du * du/dnode for each
    user u. A user inside a composite (a loss, a penalty) whose cotangent has no line stands
    for the composite's result R: dL/dR * dcomposite(node, ...)/dnode, once. A dL/du with no
    line is written as the cotangents with lines it was folded from. Equal terms (x * x's
    two factors) once, times their count."""
    counts: dict[str, int] = {}
    once: set[str] = set()
    for user in _users(node, w.body, w.rev.trace):
        if user is None:
            continue
        step = _chain(user, node, w.body)
        if w.has_line(user) and w.value_of[user.id].id in w.labels:  # the line's own name
            shown_as = w.labels[w.value_of[user.id].id]
            step = step.replace(f"dL/d{w.name(user)}", f"dL/d{shown_as}", 1)
        if not w.has_line(user):
            result, call = _composite(user, node, w)
            if call is not None:
                user, step = result, f"dL/d{w.name(result)} * d{call}/d{w.name(node)}"
                once.add(step)
            if not w.has_line(user):
                step = step.replace(f"dL/d{w.name(user)}", _folded(user, w), 1)
                once.discard(step) if call is None else once.add(step)
        counts[step] = counts.get(step, 0) + 1
    return [step if k == 1 or step in once else f"{k} * {step}" for step, k in counts.items()]


def _folded(user: Node, w: _Written) -> str:
    """dL/duser as the cotangents with lines it came from, dL/da * da/duser for each (the
    loss itself as dloss/duser: dL/dL is 1)."""
    terms = []
    for a in sorted(_frontier(user, w), key=w.name):
        seed = not any(u is not None for u, _ in w.rev.trace[a.id][1])
        du = f"d{w.name(a)}/d{w.name(user)}"
        if a.id == user.id:  # the loss itself
            du = f"dL/d{w.name(a)}"
        terms.append(du if seed else f"dL/d{w.name(a)} * {du}")
    return terms[0] if len(terms) == 1 else f"({' + '.join(terms)})"


def _composite(user: Node, node: Node, w: _Written) -> tuple[Node, str | None]:
    """(its result, `name(node, ...)`) when `user` lies inside a composite's scope (a loss,
    a penalty, a layer) that `node` is an argument of, else (user, None)."""
    parts = (user.scope or "").split("/")
    inside = [k for k, part in enumerate(parts) if part in COMPOSITE_SCOPES]
    if not inside:
        return user, None
    where = "/".join(parts[: inside[-1] + 1])
    if (node.scope or "").startswith(where):
        return user, None
    result = user
    while True:  # up to the composite's result
        above = [u for u in w.users.get(result.id, ()) if (u.scope or "").startswith(where)]
        if not above:
            break
        result = above[0]
    args, stack, seen = [node], [result], set()
    while stack:  # its other arguments: what flows into the scope from outside
        n = stack.pop()
        for i in n.inputs:
            if i.id in seen or i.op == "const":
                continue
            seen.add(i.id)
            if (i.scope or "").startswith(where):
                stack.append(i)
            elif i.id != node.id and i.id in w.body.var:
                args.append(i)
    return result, f"{parts[inside[-1]]}({', '.join(w.name(a) for a in args)})"


def _users(node: Node, body: Body, trace: dict):
    """The users whose vjp rules made dL/dnode; a user that passes its input through (no
    line of its own) hands on its own users."""
    for user, _ in trace[node.id][1]:
        if user is not None and user.id in body.passes:
            yield from _users(user, body, trace)
        else:
            yield user


def _frontier(node: Node, w: _Written) -> set:
    """The nearest nodes above `node` whose cotangents have lines (or the loss, where none
    does): the cotangents dL/dnode was folded or fused from."""
    found, stack, seen = set(), [node], set()
    while stack:
        n = stack.pop()
        for user in _users(n, w.body, w.rev.trace):
            if user is None:
                found.add(n)
            elif user.id not in seen:
                seen.add(user.id)
                (found.add if w.has_line(user) else stack.append)(user)
    return found
