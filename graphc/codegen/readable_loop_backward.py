"""The readable module's time loop, backward: after the lines of the nodes that follow the
loop, one `for t in reversed(range(T)):` over the steps whose backward lines are the last
step's, character for character (readable_loop.py proves the forward steps alike the same
way), then the steps it does not cover and the nodes before the loop.

Step t's lines start from dL/d(state) of step t, one variable per carried value holding its
part from the later steps (from the nodes after the loop, at the last step), add each
weight's contribution to the weight's sum over the steps, and end by handing step t - 1 its
part of dL/d(state). The first step's hand-off goes to the initial state: when that needs
no gradient, the loop computes it and nothing reads it.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..ir import Node
from .names import Namer
from .readable import Body, Reverse, cotangent_line, shown, spelled_parts, sum_line
from .readable_loop import Loop, numbered, slice_index


def backward_order(order: Sequence[Node], body: Body, rev: Reverse, extra: dict) -> Iterator[Node]:
    """The nodes the backward pass visits, last first. With a time loop in the forward
    lines, the nodes after the loop come first, then (written as they are reached) the
    backward loop, then the steps it does not cover and the nodes before the loop; `extra`
    receives the loop's sums that those nodes' cotangents add."""
    loop = body.loop
    if loop is None:
        yield from reversed(order)
        return
    after: set[int] = set()
    low = loop.start  # the backward loop covers steps low..last at most
    for node in order:
        if node.id not in loop.where and any(
            i.id in loop.where or i.id in after for i in node.inputs
        ):
            after.add(node.id)
            for i in node.inputs:  # a step's value read after the loop: only the last state
                t, j = loop.where.get(i.id, (-1, 0))
                if t >= 0 and (t != loop.last or j not in loop.slots):
                    low = max(low, t + 1)
    yield from reversed([n for n in order if n.id in after])
    first = _backward_loop(loop, body, rev, extra, low) if low < loop.last else None
    if first:
        body.lines.append(
            f"# {_steps(first)} written out: {_their(first)} lines differ from the loop's"
        )
    for t in reversed(range(loop.last + 1 if first is None else first)):
        yield from reversed(loop.steps[t])
    yield from reversed([n for n in order if n.id not in after and n.id not in loop.where])


def _steps(count: int) -> str:
    return "step 1" if count == 1 else f"steps 1..{count}"


def _their(count: int) -> str:
    return "its" if count == 1 else "their"


@dataclass
class _Sums:
    """The variables the backward loop carries: dL/d(state) by slot, weights' sums."""

    carry: dict[int, str]
    sums: dict[int, str]  # invariant node id -> its sum over the loop's steps
    invariants: list[Node]
    sliced: set[int]  # the sequences the steps slice: their sums are arrays from the start


def _backward_loop(loop: Loop, body: Body, rev: Reverse, extra: dict, low: int) -> int | None:
    """Write the backward loop over the steps from `low` (or later) to the last, if two or
    more steps write the same lines; return the first step it covers."""
    sums = _Sums({j: rev.namer.fresh(f"dL_d{loop.names[j]}") for j in loop.slots}, {}, [], set())
    sums.sliced = {loop.steps[loop.last][i].inputs[0].id for i in loop.sliced}
    seen: set[int] = set()
    for step in loop.steps[max(low, 1) :]:
        for node in step:
            for x in node.inputs:
                if x.id not in loop.where and x.id not in seen and _differentiated(x, body, rev):
                    seen.add(x.id)
                    sums.invariants.append(x)
    sums.invariants = _through_passes(sums.invariants, body, rev)
    if any(x.id in {n.id for n in loop.initial.values()} for x in sums.invariants):
        low = max(low, 1)  # step 1 reads it as the state and as a weight: written out
    for x in sums.invariants:
        sums.sums[x.id] = rev.namer.fresh(f"dL_d{body.var[x.id]}")
    want = _step_backward(loop, loop.last, body, rev, sums, checking=True)
    first = loop.last
    while first > low and want is not None:
        got = _step_backward(loop, first - 1, body, rev, sums, checking=True)
        if got is None or not _alike(loop, first - 1, got, want, rev):
            break
        first -= 1
    if want is None or first == loop.last:
        return None
    lines = _step_backward(loop, loop.last, body, rev, sums)
    body.lines.append(
        f"# the loop backward, step {loop.last + 1} down to {first + 1}: the carried "
        "dL/d(state) flows from each step to the one before"
    )
    for j in loop.slots:
        _carry_in(loop, j, body, rev, sums.carry[j])
    names = [sums.sums[x.id] for x in sums.invariants if x.id not in sums.sliced]
    if names:
        body.lines.append(
            f"{', '.join(names)} = {', '.join('0.0' for _ in names)}  # sums over the steps"
        )
    for x in sums.invariants:
        if x.id in sums.sliced:
            body.lines.append(
                f"{sums.sums[x.id]} = np.zeros_like({body.var[x.id]})  # filled slice by slice"
            )
    span = f"range({len(loop.steps)})" if first == 0 else f"range({first}, {len(loop.steps)})"
    body.lines.append(f"for t in reversed({span}):")
    body.lines += [f"    {line}" for part in lines for line in part[1]]
    for j in loop.slots:
        extra.setdefault(loop.carried_in(first, j).id, []).append(
            (sums.carry[j], f"dL/d{loop.names[j]}[{first}] from the loop")
        )
    for x in sums.invariants:
        extra.setdefault(x.id, []).append((sums.sums[x.id], "the loop's sum"))
    return first


def _differentiated(node: Node, body: Body | None, rev: Reverse) -> bool:
    """Does the backward pass write a cotangent for `node`?"""
    return node.id in rev.live and node.id in rev.trace


def _through_passes(nodes: list[Node], body: Body, rev: Reverse) -> list[Node]:
    """The nodes whose cotangents are written for `nodes`: a node that passes its input
    through stands for that input."""
    found, stack = [], list(nodes)
    while stack:
        node = stack.pop(0)
        if node.id in body.passes:
            stack += [i for i in node.inputs if _differentiated(i, body, rev)]
        elif node not in found:
            found.append(node)
    return found


def _carry_in(loop: Loop, slot: int, body: Body, rev: Reverse, var: str) -> None:
    """The line starting the carried dL/d(state) of a slot at the last step: what the
    nodes after the loop give it, or 0."""
    node = loop.steps[loop.last][slot]
    if _differentiated(node, body, rev) and cotangent_line(node, body, rev, (), var):
        return
    body.lines.append(f"{var} = 0.0  # {body.var[node.id]} is not used after the loop")


def _step_backward(
    loop: Loop, t: int, body: Body, rev: Reverse, sums: _Sums, checking: bool = False
) -> list[tuple[str, list[str]]] | None:
    """Step t + 1's backward lines as the loop writes them, in blocks: ("step", ...) its
    nodes' cotangents, ("sum", ...) the sums' updates, (slot, ...) the dL/d(state) handed
    to step t; None when they cannot be written (an initial value in two roles)."""
    step = loop.steps[t]
    var: dict[int, str] = {}
    text: dict[int, str] = {}
    for i, node in enumerate(step):
        if i in loop.var:
            var[node.id] = loop.var[i]
        if i in loop.text:
            text[node.id] = loop.text[i]
    for j in loop.slots:
        before = loop.carried_in(t, j)
        if var.setdefault(before.id, f"{loop.names[j]}[t - 1]") != f"{loop.names[j]}[t - 1]":
            return None
    namer = Namer(set(rev.namer.taken)) if checking else rev.namer
    spelling = numbered(rev.spelling) if checking else rev.spelling
    local = Reverse(rev.trace, rev.live, {}, namer, spelling)
    lines: list[str] = []
    inner = Body(lines, ChainMap(var, body.var), body.passes, ChainMap(text, body.text))
    for i in reversed(range(len(step))):
        carried = [(sums.carry[i], "its part from the later steps")] if i in sums.carry else []
        made = cotangent_line(step[i], inner, local, carried)
        if made is not None:
            local.cotangent[step[i].id] = made
    blocks = [("step", lines)]
    inner.lines = []
    for x in sums.invariants:
        mine = sums.sums[x.id]
        moving = [
            (i, n)
            for i, n in enumerate(step)
            if i in loop.sliced and n.inputs[0] is x and n.id in local.cotangent
        ]
        parts = spelled_parts(x, inner, local, skip={n.id for _, n in moving})
        if parts:
            sum_line(x, [([], mine, f"dL/d{x.name or 'it'} so far"), *parts], inner, namer, mine)
        for i, n in moving:  # dL/d(sequence) at step t's slice: what the slice's users give
            inner.lines.append(
                f"{mine}[{slice_index(loop, i)}] += {local.cotangent[n.id]}"
                f"  # dL/d{shown(body.var[x.id])} at step t's slice"
            )
    blocks.append(("sum", inner.lines))
    assigned: set[str] = set()
    for j in loop.slots:
        inner.lines = []
        before = loop.carried_in(t, j)
        handed = _differentiated(before, body, rev) and before.id not in body.passes
        parts = spelled_parts(before, inner, local) if handed else []
        if parts:
            sum_line(before, parts, inner, namer, sums.carry[j])
        else:
            inner.lines.append(f"{sums.carry[j]} = 0.0")
        reads = set(re.findall(r"\w+", "\n".join(line.split("#")[0] for line in inner.lines)))
        if reads & assigned:  # would read a carried value this step has handed on already
            return None
        assigned.add(sums.carry[j])
        blocks.append((j, inner.lines))
    return blocks


def _alike(loop: Loop, t: int, got, want, rev: Reverse) -> bool:
    """Does step t + 1 write the last step's lines? At the first step, the dL/d(state) it
    hands to an initial state that needs none is not compared: the loop computes it and
    nothing reads it."""
    if t > 0:
        return got == want
    needed = [j for j in loop.slots if _differentiated(loop.initial[j], None, rev)]
    if len({loop.initial[j].id for j in needed}) < len(needed):  # one node, two roles
        return False
    return [b for b in got if b[0] in ("step", "sum") or b[0] in needed] == [
        b for b in want if b[0] in ("step", "sum") or b[0] in needed
    ]
