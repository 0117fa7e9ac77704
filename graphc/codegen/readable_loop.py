"""The readable module's time loop: the steps of an unrolled cell (gc.unroll runs step t + 1
in scope "step{t+1}") written once, inside `for t in range(T):`, forward and backward.

What the loop covers is proved, not assumed. First the steps must be the same graph, node
for node: the same op, attributes and dtype, reading the same positions of their own step,
the same positions of the previous step (the carried state) or the same nodes from before
the loop; only a slice of the sequence may move with t (x[:, t]). Then each step is written
out as its lines would be, step t's values named v[t] and the previous step's v[t - 1], and
the loop runs over the steps whose lines are the last step's, character for character: it
computes what the lines of the unrolled steps compute. A step that differs (the first one's
backward when its initial state is a broadcast row, as NumPy's broadcasting sums it back)
stays written out: before the loop in the forward pass, after it in the backward pass.

The backward loop is readable_loop_backward.py's.
"""

from __future__ import annotations

import itertools
import re
from collections import ChainMap
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..ir import Node
from ..ops.registry import REGISTRY
from ..recurrent import step_of
from .names import Namer
from .readable import Body, forward_line, forward_lines
from .readable_spelling import Spelling

_AT = re.compile(r"\[t( - 1)?\]")


@dataclass
class Loop:
    """The steps of one unrolled cell and what the loop over them needs."""

    steps: list[list[Node]]  # steps[t]: the nodes of step t + 1, in the order they were made
    where: dict[int, tuple[int, int]]  # node id -> (its step, its position in the step)
    after: set[int]  # nodes outside the steps that depend on them
    slots: list[int]  # the positions the next step reads: the carried state
    initial: dict[int, Node] = field(default_factory=dict)  # slot -> step 1's input for it
    sliced: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # position ->
    # (axis, offset, width) of a slice of the sequence that moves with t
    start: int = 0  # the first step the loop runs (the ones before are written out)
    names: dict[int, str] = field(default_factory=dict)  # position -> its dict of values by t
    var: dict[int, str] = field(default_factory=dict)  # position -> how the loop's lines
    # read it at step t ("add[t]", or what it passes through: "mul_3[t - 1]", "W")
    text: dict[int, str] = field(default_factory=dict)  # position -> a short expression
    hoisted: set[int] = field(default_factory=set)  # positions the same at every step (W.T)
    passes: set[int] = field(default_factory=set)  # positions that pass an input through

    @property
    def last(self) -> int:
        return len(self.steps) - 1

    def carried_in(self, t: int, slot: int) -> Node:
        """The node step t + 1 reads for a carried value: step t's, or the initial state."""
        return self.initial[slot] if t == 0 else self.steps[t - 1][slot]


def at(var: str, t: int) -> str:
    """How code outside the loop reads a value the loop's lines read as `var` at step t."""
    return _AT.sub(lambda m: f"[{t - 1 if m.group(1) else t}]", var)


def slice_index(loop: Loop, position: int) -> str:
    """The index of step t's slice of the sequence at `position`: `:, t:t + 1`."""
    axis, offset, width = loop.sliced[position]
    first = f"t + {offset}" if offset else "t"
    return ", ".join([":"] * axis + [f"{first}:{first} + {width}"])


def find(nodes: Sequence[Node]) -> Loop | None:
    """The unrolled cell among `nodes` (a topological order) whose last steps are the same
    graph (the one with most nodes if there are several); None when there is none."""
    groups: dict[str, dict[int, list[Node]]] = {}
    for node in nodes:
        found = step_of(node.scope)
        if found is not None:
            groups.setdefault(found[0], {}).setdefault(found[1], []).append(node)
    runs = [g for g in groups.values() if len(g) >= 2 and set(g) == set(range(len(g)))]
    if not runs:
        return None
    run = max(runs, key=lambda g: sum(map(len, g.values())))
    steps = [sorted(run[t], key=lambda n: n.id) for t in range(len(run))]  # as made
    where = {n.id: (t, i) for t, step in enumerate(steps) for i, n in enumerate(step)}
    after: set[int] = set()
    for node in nodes:
        if node.id not in where and any(i.id in where or i.id in after for i in node.inputs):
            after.add(node.id)
    last = len(steps) - 1
    slots = {
        where[i.id][1]
        for n in steps[last]
        for i in n.inputs
        if where.get(i.id, (None,))[0] == last - 1
    }
    loop = Loop(steps, where, after, sorted(slots))
    loop.start = last + 1
    for t in reversed(range(last + 1)):
        if not _same(loop, t):
            break
        loop.start = t
    return loop if loop.start < last else None


def _same(loop: Loop, t: int) -> bool:
    """Is step t + 1 the last step's graph (reading step t's carried values where the last
    step reads its previous step's)? Records the initial state and the moving slices."""
    last, where = loop.last, loop.where
    if len(loop.steps[t]) != len(loop.steps[last]):
        return False
    initial: dict[int, Node] = {}
    for i, (a, b) in enumerate(zip(loop.steps[t], loop.steps[last])):
        if a.op != b.op or a.dtype != b.dtype or len(a.inputs) != len(b.inputs):
            return False
        if a.is_leaf and a.op != "const":  # a param made inside a step: one per step
            return False
        if a.structural_key[2] != b.structural_key[2]:  # the attributes
            moved = _moving_slice(loop, a, b, t)
            if moved is None or loop.sliced.setdefault(i, moved) != moved:
                return False
        for x, y in zip(a.inputs, b.inputs):
            ty, j = where.get(y.id, (None, 0))
            if ty is None:  # from before the loop: the same node
                if x is not y or y.id in loop.after:
                    return False
            elif ty == last:
                if where.get(x.id) != (t, j):
                    return False
            elif ty != last - 1:  # an older step's value
                return False
            elif t > 0:
                if where.get(x.id) != (t - 1, j):
                    return False
            elif x.id in where or x.id in loop.after or initial.setdefault(j, x) is not x:
                return False
    if t == 0:
        loop.initial = initial
    return True


def _moving_slice(loop: Loop, a: Node, b: Node, t: int) -> tuple[int, int, int] | None:
    """(axis, offset, width) when a and b slice the same sequence at t + offset and
    last + offset, one step apart per step; None otherwise."""
    if a.op != "slice" or a.inputs[0] is not b.inputs[0] or a.inputs[0].id in loop.where:
        return None
    pa, pb = dict(a.attrs), dict(b.attrs)
    if any(pa[k] != pb[k] for k in pa if k not in ("start", "stop")) or pa.get("step") != 1:
        return None
    if None in (pa["stop"], pb["stop"]) or min(pa["start"], pb["start"]) < 0:
        return None
    offset, width = pb["start"] - loop.last, pb["stop"] - pb["start"]
    if pa["start"] - t != offset or pa["stop"] - pa["start"] != width:
        return None
    return pa["axis"], offset, width


def numbered(spelling: Spelling) -> Spelling:
    """The spelling with its own numbering of helper variables, so that two steps spelled
    alike read alike."""
    count = itertools.count()
    return Spelling(
        spelling.constant,
        spelling.helpers,
        lambda hint: f"_{hint}{next(count)}",
        spelling.helper,
    )


# ---- forward ----


def forward(nodes: Sequence[Node], body: Body, namer: Namer, spelling: Spelling) -> None:
    """The lines of `nodes`: an unrolled cell's steps as one loop, every other node (and a
    step the loop does not cover) one line each; body.loop keeps the loop for backward."""
    loop = find(nodes)
    if loop is None:
        forward_lines(nodes, body, namer, spelling)
        return
    before = [n for n in nodes if n.id not in loop.where and n.id not in loop.after]
    forward_lines(before, body, namer, spelling)
    for i, node in enumerate(loop.steps[loop.last]):
        if node.op != "const":
            loop.names[i] = namer.fresh(node.name, node.op)
    loop.hoisted = _hoistable(loop)
    want = _step_forward(loop, loop.last, body, numbered(spelling))
    while loop.start < loop.last and (
        want is None or _step_forward(loop, loop.start, body, numbered(spelling)) != want
    ):
        loop.start += 1
    made = _step_forward(loop, loop.last, body, spelling, keep=True) if want else None
    if made is None or loop.start >= loop.last or not _carried_values_have_lines(loop):
        forward_lines(nodes, body, namer, spelling)  # written out, step by step
        return
    if loop.start:
        first = "step 1" if loop.start == 1 else f"steps 1..{loop.start}"
        body.lines.append(f"# {first} written out: the loop's lines do not compute {first}")
    for step in loop.steps[: loop.start]:
        forward_lines(step, body, namer, spelling)
    once, lines = made
    body.lines += _loop_head(loop, body, spelling, once)
    body.lines += [f"    {line}" for line in lines]
    for t in range(loop.start, loop.last + 1):  # how the lines after the loop read them
        for i, node in enumerate(loop.steps[t]):
            if i in loop.var:
                body.var[node.id] = at(loop.var[i], t)
            if i in loop.passes:
                body.passes.add(node.id)
    body.loop = loop
    forward_lines([n for n in nodes if n.id in loop.after], body, namer, spelling)


def _hoistable(loop: Loop) -> set[int]:
    """The positions whose value is the same at every step: made from nodes before the loop
    (a weight's transpose), consts or such positions, with no random draw."""
    found: set[int] = set()
    for i, node in enumerate(loop.steps[loop.last]):
        opdef = REGISTRY[node.op]
        if node.op == "const":  # written where it is used, the same at every step
            found.add(i)
            continue
        if i in loop.sliced or opdef.random or opdef.helper:
            continue
        places = [loop.where.get(x.id) for x in node.inputs]
        if all(p is None or p == (loop.last, p[1]) and p[1] in found for p in places):
            found.add(i)
    return found


def _step_forward(
    loop: Loop, t: int, body: Body, spelling: Spelling, keep: bool = False
) -> tuple[list[str], list[str]] | None:
    """Step t + 1's lines as the loop writes them (its values v[t], the carried ones
    v[t - 1]): those computed once before the loop, those inside it; None when a node
    reads one initial value in two roles. With `keep`, the last step's: record how each
    position is read and its short expression."""
    local: dict[int, str] = {}
    once: list[str] = []
    lines: list[str] = []
    last = loop.steps[loop.last]
    for i, node in enumerate(loop.steps[t]):
        if node.op == "const":
            continue
        roles: dict[int, str] = {}
        for x, y in zip(node.inputs, last[i].inputs):
            ty, j = loop.where.get(y.id, (None, 0))
            if ty == loop.last - 1 and roles.setdefault(x.id, f"{loop.names[j]}[t - 1]") != (
                f"{loop.names[j]}[t - 1]"
            ):
                return None
        target = loop.names[i] if i in loop.hoisted else f"{loop.names[i]}[t]"
        if i in loop.sliced:
            lines.append(f"{target} = {body.var[node.inputs[0].id]}[{slice_index(loop, i)}]")
            local[node.id] = target
        else:
            into = once if i in loop.hoisted else lines
            step = Body(into, ChainMap(roles, local, body.var), set(), {})
            forward_line(node, step, spelling, target)
            local[node.id] = step.var[node.id]
            if keep and node.id in step.text:
                loop.text[i] = step.text[node.id]
            if keep and step.passes:
                loop.passes.add(i)
        if keep:
            loop.var[i] = local[node.id]
    return once, lines


def _carried_values_have_lines(loop: Loop) -> bool:
    """Each carried value is a dict of the loop's (not an input it passes through)."""
    return all(loop.var.get(j) == f"{loop.names[j]}[t]" for j in loop.slots)


def _loop_head(loop: Loop, body: Body, spelling: Spelling, once: list[str]) -> list[str]:
    """The dicts of values by step (the carried ones holding the state before the loop's
    first step at t - 1), the lines the same at every step, and the `for` line."""
    steps, first = len(loop.steps), loop.start
    lines = [
        f"# steps {first + 1}..{steps} ({_scopes(loop)}): one pass of the loop per step, "
        "v[t] is v at step t + 1"
    ]
    names, values = [], []
    for j in loop.slots:
        before = loop.carried_in(first, j)
        if before.id in body.var:
            value = body.var[before.id]
        else:  # a const initial state
            _, value = spelling.expression(before, {})
        names.append(loop.names[j])
        values.append(f"{{{first - 1}: {value}}}")
    lines.append(f"{', '.join(names)} = {', '.join(values)}  # the state before step {first + 1}")
    rest = [loop.names[i] for i in sorted(loop.var) if loop.var[i] == f"{loop.names[i]}[t]"]
    rest = [name for name in rest if name not in {loop.names[j] for j in loop.slots}]
    lines += _grouped(rest, "{}")
    if once:
        lines.append("# the same at every step: computed once")
    span = f"range({steps})" if first == 0 else f"range({first}, {steps})"
    return lines + once + [f"for t in {span}:"]


def _scopes(loop: Loop) -> str:
    first, last = loop.steps[loop.start][0].scope, loop.steps[loop.last][0].scope
    return f"scopes {first.split('/')[0]}..{last.split('/')[0]}" if first and last else ""


def _grouped(names: list[str], value: str, width: int = 88) -> list[str]:
    """`a, b, c = {}, {}, {}`-style lines, a few names per line."""
    lines, group = [], []

    def line(names):
        return f"{', '.join(names)} = {', '.join(value for _ in names)}"

    for name in names:
        if group and len(line([*group, name])) > width:
            lines.append(line(group))
            group = []
        group.append(name)
    return lines + ([line(group)] if group else [])
