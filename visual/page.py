"""`visual.step_through`: one self-contained HTML page that steps through backprop on a
graph: the forward pass node by node, then the backward pass gate by gate (→/← and clicker
keys, buttons, a frame counter, #frame=N in the URL, a presentation mode for projectors).
Every frame is an SVG the real `dot` made of the same layout; a side panel says what happens
at the current node, with its numbers."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import Path

import numpy as np

from graphc import REGISTRY, GraphError, Node
from graphc.files import write_file

from .backprop import Shown, constant, draw_gates, routes
from .gates import (
    Gate,
    GateNumbers,
    composite_label,
    composite_rules,
    gate_numbers,
    matrix,
    summed_terms,
)
from .labels import caption, number, op_label
from .output import check_drawable, pipe
from .rendering import check_values, expand_set

PAGE = Path(__file__).with_name("page_template.html")


def _pre(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _title(numbers: GateNumbers, gate: Gate) -> str:
    """A gate's heading: the box's title, or the node's name on the picture."""
    named = gate.composite and gate.node.name  # "loss = softmax cross-entropy"
    return html.escape(gate.title if named else numbers.names[gate.node.id])


def _forward_panel(numbers: GateNumbers, gate: Gate, k: int, total: int) -> str:
    """What the forward pass does at a gate: the op, what it reads, and its value."""
    node = gate.node
    reads = html.escape(", ".join(numbers.names[c.id] for c in gate.inputs)) or "nothing"
    if gate.composite:
        what = f"computes <b>{html.escape(composite_label(gate.composite))}</b> of {reads}"
    elif REGISTRY[node.op].mode is not None:  # a mode switch: say what it does, not its label
        mode = "training" if numbers.training else "inference"
        what = f"passes {reads} on ({mode} mode)"
    else:
        what = f"computes <b>{html.escape(op_label(node))}</b> of {reads}"
    value = numbers.values.get(node.id)
    return (
        f"<h2>Forward {k} of {total}: {_title(numbers, gate)}</h2>"
        f"<p>{what}</p>"
        f'<p class="value">value = {_pre(matrix(value)) if value is not None else "?"}</p>'
    )


def _backward_panel(numbers: GateNumbers, gate: Gate, k: int, total: int) -> str:
    """What backprop does at a gate: upstream × local = downstream, for each input."""
    node, floor = gate.node, numbers.floor
    up = numbers.upstream.get(node.id)
    parts = [
        f"<h2>Backward {k} of {total}: {_title(numbers, gate)}</h2>",
        f'<p class="grad">upstream ∂L/∂out = {_pre(matrix(up, floor))}</p>',
    ]
    for other in gate.outputs:  # a box's other result has its own upstream (c′ beside h′)
        if other.id in numbers.received:
            more = _pre(matrix(numbers.received[other.id], floor))
            parts.append(
                f'<p class="grad">upstream ∂L/∂{html.escape(numbers.names[other.id])} = {more}</p>'
            )
    rules = composite_rules(numbers, gate)
    parts += [f'<p class="rule">{html.escape(line)}</p>' for line in rules]
    blocks = []
    for child in gate.inputs:
        key = (child.id, node.id)
        if key not in numbers.downstream:
            continue
        name = html.escape(numbers.names[child.id])
        down = _pre(matrix(numbers.downstream[key], floor))
        if key in numbers.rules and routes(numbers.rules[key]):
            # the rule says what becomes of the upstream (a matrix product, a window's
            # winner): it gives the downstream itself, not a factor to multiply by
            lines = [f"<p>∂L/∂{name} = {html.escape(numbers.rules[key])}</p>"]
            if key in numbers.local:  # where an upstream of ones goes: the winners
                winners = _pre(matrix(numbers.local[key], floor))
                lines.append(f"<p>winners (1 where an entry of {name} won) = {winners}</p>")
                lines += _first_window(numbers, gate, child, name)
            product = "downstream, by this rule"
        elif key in numbers.rules:
            local = html.escape(numbers.rules[key])
            if key in numbers.local and not constant(numbers.rules[key]):
                local += f" = {_pre(matrix(numbers.local[key], floor))}"
            lines = [f"<p>local ∂out/∂{name} = {local}</p>"]
            product = "downstream = upstream × local"
        else:  # a box: its rule above gives the downstream from the upstream
            lines, product = [], "downstream, by the rule above"
        summed = summed_terms(numbers, key)
        if summed is None:
            lines.append(f'<p class="grad">{product} = {down}</p>')
        else:  # a broadcast input (a bias over the rows): the terms, then their sum
            terms, what = summed
            lines.append(
                f'<p class="grad">upstream × local, term by term = {_pre(matrix(terms, floor))}</p>'
            )
            lines.append(
                f'<p class="grad"><span class="sum">downstream = Σ {what}</span> = {down}</p>'
            )
        blocks.append(f'<section class="input"><h3>into {name}</h3>{"".join(lines)}</section>')
    parts += blocks or ["<p>no input of this gate needs a gradient</p>"]
    return "".join(parts)


def _first_window(numbers: GateNumbers, gate: Gate, child: Node, name: str) -> list[str]:
    """A pooling gate's first window worked by hand (no padding): its entries, the one that
    won it (the first maximum, row-major, as PyTorch) and the upstream it receives."""
    node = gate.node
    kernel, padding = node.attrs.get("kernel"), node.attrs.get("padding")
    x, up = numbers.values.get(child.id), numbers.upstream.get(node.id)
    if kernel is None or x is None or up is None or np.ndim(x) != 2 + len(kernel):
        return []
    if any(side for pad in padding or () for side in np.ravel(pad)):
        return []
    window = np.asarray(x)[(0, 0, *(slice(0, k) for k in kernel))]
    at = np.unravel_index(int(np.argmax(window)), window.shape)
    where = ", ".join(map(str, at))
    return [
        f"<p>the first window of {name} (row 0, channel 0) = {_pre(matrix(window))}: its "
        f"first maximum {number(float(window[at]))}, at ({where}) in the window, wins and gets "
        f"the upstream {number(float(np.asarray(up)[(0, 0, *(0 for _ in kernel))]))}; "
        "the other entries get 0</p>"
    ]


def _final_panel(numbers: GateNumbers) -> str:
    """The last frame: every ∂L/∂param."""
    rows = "".join(
        f"<tr><td>∂L/∂{html.escape(caption(w))}</td>"
        f'<td class="grad">{_pre(matrix(numbers.upstream.get(w.id, 0.0), numbers.floor))}</td></tr>'
        for w in numbers.wrt
    )
    return (
        "<h2>Done: the gradient of the loss with respect to every param</h2>"
        f"<table><tr><th>param</th><th>gradient</th></tr>{rows}</table>"
        "<p>each is the sum of the downstream gradients on the param's wires</p>"
    )


def frames(numbers: GateNumbers) -> list[tuple[Shown, str, int | None]]:
    """(what is shown, the panel, the current node id) for every frame, in order."""
    shown = Shown()
    leaves = [n for n in numbers.order if n.is_leaf and n.op != "const"]
    shown.values.update(n.id for n in leaves)
    kinds = (("input", "inputs"), ("param", "params"), ("state", "state (running statistics)"))
    listed = "".join(
        f"<p>{what}: {html.escape(', '.join(caption(n) for n in leaves if n.op == op))}</p>"
        for op, what in kinds
        if any(n.op == op for n in leaves)
    )
    result = [(deepcopy(shown), f"<h2>The inputs and params</h2>{listed}", None)]
    gates = numbers.gates
    for k, gate in enumerate(gates, 1):
        shown.values.add(gate.node.id)
        shown.current = gate.node.id
        result.append((deepcopy(shown), _forward_panel(numbers, gate, k, len(gates)), gate.node.id))
    backward = [g for g in reversed(gates) if g.node.id in numbers.flow]
    waiting = {n.id: 0 for n in leaves}
    for g in backward:
        for child in g.inputs:
            if (child.id, g.node.id) in numbers.downstream and child.id in waiting:
                waiting[child.id] += 1
    for k, gate in enumerate(backward, 1):
        shown.gates.add(gate.node.id)
        shown.current = gate.node.id
        for child in gate.inputs:
            if (child.id, gate.node.id) in numbers.downstream:
                shown.wires.add((child.id, gate.node.id))
                if child.id in waiting:
                    waiting[child.id] -= 1
                    if waiting[child.id] == 0:  # every use of the leaf is done: its total
                        shown.gates.add(child.id)
        panel = _backward_panel(numbers, gate, k, len(backward))
        result.append((deepcopy(shown), panel, gate.node.id))
    last = Shown(complete=True)
    result.append((last, _final_panel(numbers), None))
    return result


def _inline_svg(svg: bytes) -> str:
    """An SVG ready to sit inside HTML: no XML prolog, doctype or comments."""
    text = svg.decode()
    text = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", text, flags=re.S)
    return re.sub(r">\s+<", "><", text).strip()


def step_through(
    loss: Node,
    values: Mapping | None = None,
    path: str | None = None,
    *,
    training: bool = False,
    wrt: Iterable[Node] | None = None,
    expand: bool | str | Iterable[str] = False,
    title: str | None = None,
) -> str:
    """Write one self-contained HTML page (no network, no other file) that steps through
    backprop on `loss`: the forward pass node by node, then the backward pass gate by gate,
    with →/← (and a clicker's PageDown/PageUp, Home, End) keys, buttons and #frame=N
    (1-based) in the URL; P (or #frame=N&present) switches to presentation mode: large text,
    the current node and its neighbours in focus. Returns the path written."""
    check_values(values, "step_through")
    check_drawable(loss, "step_through: the graph")
    if not isinstance(path, (str, Path)):
        raise GraphError(f"step_through needs the path of the .html file to write, got {path!r}")
    numbers = gate_numbers(loss, values, wrt, training, expand_set(expand))
    steps = frames(numbers)
    title = title or f"Backprop through {caption(loss)}"
    # every frame repeats the tooltips: short ones keep the page small (the panel has more)
    pictures = [
        draw_gates(numbers, shown, None, None, False, tip_limit=24) for shown, _, _ in steps
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:  # dot runs in its own process
        svgs = list(pool.map(lambda p: _inline_svg(pipe(p, "svg")), pictures))
    body = "".join(
        f'<section class="frame" data-node="{"" if node is None else f"n{node}"}" hidden>'
        f'<div class="picture">{svg}</div><aside class="panel">{panel}</aside></section>'
        for svg, (_, panel, node) in zip(svgs, steps)
    )
    mode = "training" if numbers.training else "inference"
    page = (
        PAGE.read_text(encoding="utf-8")
        .replace("{{title}}", html.escape(title))
        .replace("{{mode}}", mode)
        .replace("{{frames}}", body)
        .replace("{{count}}", json.dumps(len(steps)))
    )
    return write_file(str(path), lambda f: f.write(page))
