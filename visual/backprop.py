"""`visual.render_backprop`: the gate view as one picture, and the drawing each frame of the
step-through page reuses (numbers not yet computed are drawn in the node's own fill colour,
so every frame has the same layout)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graphc import Node

from .annotate import magnitude
from .draw import draw
from .gates import GateNumbers, composite_rules, full, gate_numbers, short, summed_terms
from .labels import caption
from .mode import mode_title
from .output import Picture, check_drawable
from .rendering import (
    GRAD_COLOR,
    MAX_WIDTH,
    VALUE_COLOR,
    check_values,
    expand_set,
    forward_drawing,
    legend,
    new_picture,
)
from .style import NODE_STYLE, gradient_color, gradient_width

RULE_COLOR = "#374151"
PAPER = "#ffffff"


@dataclass
class Shown:
    """What a frame shows: values of some nodes, the gradient numbers of some gates, the
    downstream numbers on some wires, and the current node (None: everything, no focus)."""

    values: set[int] = field(default_factory=set)
    gates: set[int] = field(default_factory=set)
    wires: set[tuple[int, int]] = field(default_factory=set)
    current: int | None = None
    complete: bool = False


def everything(numbers: GateNumbers) -> Shown:
    """The state in which every number is shown."""
    return Shown(complete=True)


def _ink(color: str, visible: bool, kind: str) -> str:
    """The colour of a line: its own, or the node's fill (hidden, the layout unchanged)."""
    return color if visible else NODE_STYLE.get(kind, {}).get("fillcolor", PAPER)


def gate_drawing(numbers: GateNumbers, shown: Shown, prefix: str = "", tip_limit: int = 200):
    """The forward graph with the gate view's numbers, as far as `shown` allows."""
    drawing = forward_drawing(numbers.order, [numbers.loss], prefix, numbers.training)
    drawing.kinds.update({n.id: "gate" for n in numbers.order if drawing.kinds[n.id] == "op"})
    floor = numbers.floor
    for node in numbers.order:
        if node.op == "const":
            continue
        gate = next((g for g in numbers.gates if g.node is node), None)
        if node.id in numbers.groups and gate is None:
            continue  # inside a box: the box shows its result's numbers
        kind = "composite" if gate and gate.composite else drawing.kinds.get(node.id, "op")
        if not node.is_leaf and not node.name and (node.id not in numbers.groups or gate):
            drawing.titles[node.id] = numbers.names[node.id]  # unique: the rules use it
        show_value = shown.complete or node.id in shown.values
        show_grad = shown.complete or node.id in shown.gates
        notes, tips = [], []
        if node.id in numbers.values:
            value = numbers.values[node.id]
            notes += _lines(f"= {short(value, rows=True)}", _ink(VALUE_COLOR, show_value, kind))
            tips.append(f"value = {full(value, 0.0, tip_limit)}")
        if node.id in numbers.upstream:
            g = numbers.upstream[node.id]
            what = f"∂L/∂{caption(node)}" if node.is_leaf else "↑ upstream ∂L/∂out"
            notes += _lines(
                wrap(f"{what} = {short(g, floor, True)}"), _ink(GRAD_COLOR, show_grad, kind)
            )
            tips.append(f"{what} = {full(g, floor, tip_limit)}")
        for other in gate.outputs if gate else ():  # a box's other result (an LSTM's c′)
            if other.id in numbers.received:
                g, what = numbers.received[other.id], f"↑ upstream ∂L/∂{numbers.names[other.id]}"
                notes += _lines(
                    wrap(f"{what} = {short(g, floor)}"), _ink(GRAD_COLOR, show_grad, kind)
                )
                tips.append(f"{what} = {full(g, floor, tip_limit)}")
        if gate is not None and node.id in numbers.flow:
            for line in composite_rules(numbers, gate):
                notes += _lines(wrap(line), _ink(RULE_COLOR, show_grad, kind))
            for child in gate.inputs if gate.composite is None else ():
                key = (child.id, node.id)
                if key not in numbers.downstream:
                    continue
                name = numbers.names[child.id]
                # the picture holds a rule's formula; the page's panel says the rest
                text = f"∂/∂{name}: {numbers.rules.get(key, '').split(chr(10))[0]}"
                rule = numbers.rules.get(key, "")
                if key in numbers.local and not constant(rule):
                    if not routes(rule):  # max pooling's winners: in the tooltip and panel
                        text += f" = {short(numbers.local[key], floor, True)}"
                    tips.append(f"local ∂out/∂{name} = {full(numbers.local[key], 0.0, tip_limit)}")
                summed = summed_terms(numbers, key)
                if summed is not None:  # upstream × local has the gate's shape: a sum
                    text += f"; ∂ summed {summed[1]}"
                notes += _lines(wrap(text), _ink(RULE_COLOR, show_grad, kind))
        drawing.notes[node.id] = notes
        drawing.tooltips[node.id] = "; ".join(tips) or caption(node)
        if node.id == shown.current:
            drawing.marks[node.id] = "highlight"
    for gate in numbers.gates:
        for child in gate.inputs:
            key = (child.id, gate.node.id)
            if key not in numbers.downstream:
                continue
            d = numbers.downstream[key]
            visible = shown.complete or key in shown.wires
            member = next(m for m in gate.members if child in m.inputs)
            m = magnitude(d)
            drawing.edges[(child.id, member.id)] = {
                "label": f"∂ {short(d, floor)}",
                "fontcolor": GRAD_COLOR if visible else PAPER,
                "labeltooltip": f"downstream ∂L/∂{caption(child)} = {full(d, floor, tip_limit)}",
                "color": gradient_color(m) if visible else "#9ca3af",
                "penwidth": gradient_width(m) if visible else "1",
            }
    return drawing


NOTE_WIDTH = 48  # characters of a note's line: 1024x768 in presentation shows it at 20 px


def wrap(text: str, width: int = NOTE_WIDTH) -> str:
    """A note's line broken after its clauses (", ", "; ", ": ", before " = ", never inside
    brackets: an array stays whole) into lines of at most `width` characters where it can."""

    def depth(part: str) -> int:
        return sum(part.count(o) - part.count(c) for o, c in ("()", "[]"))

    lines = []
    while len(text) > width:
        head = text[: width + 1]
        clauses = [m.end() for m in re.finditer(r"[,;:] ", head)]
        equals = [m.start() for m in re.finditer(r" = ", head)]
        clauses, equals = (
            [c for c in cuts if width // 4 <= c and depth(text[:c]) == 0]
            for cuts in (clauses, equals)
        )
        late = [c for c in clauses if c >= width // 2]  # a clause's end first, then an " = "
        cuts = late or clauses + equals
        if not cuts:
            break  # no clause ends early enough: a long line beats a broken formula
        lines.append(text[: max(cuts)].rstrip())
        text = text[max(cuts) :].lstrip()
    return "\n".join([*lines, text])


def _lines(text: str, color: str) -> list[tuple[str, str]]:
    """A note of several lines (a matrix, one row each) as notes of one line each."""
    return [(line.strip(), color) for line in text.split("\n")]


def routes(rule: str) -> bool:
    """Whether a local rule says what becomes of the upstream ("upstream · Wᵀ", "upstream
    sent back to the entry that won its window") rather than a factor to multiply it by
    ("1: upstream copied to every summed entry" is the factor 1)."""
    return "upstream" in rule and not rule[:1].isdigit()


def constant(rule: str) -> bool:
    """Whether a local rule is a plain number ("1", "−1", a constant factor's "0.0001"): its
    numbers would repeat it."""
    try:
        float(rule.replace("−", "-"))
    except ValueError:
        return False
    return True


def draw_gates(
    numbers: GateNumbers,
    shown: Shown,
    title: str | None,
    max_width: int | None,
    legend_too: bool = True,
    tip_limit: int = 200,
) -> Picture:
    """A picture of the gate view in a given state; tooltips list up to `tip_limit` numbers."""
    drawing = gate_drawing(numbers, shown, tip_limit=tip_limit)
    picture = new_picture(mode_title(title, numbers.order, numbers.training), "TB", max_width)
    draw(picture, drawing, clusters=True, edge_labels=False, expand=numbers.expand)
    if legend_too:
        legend(picture, True, True, False)
    return picture


def render_backprop(
    loss: Node,
    values: Mapping | None = None,
    *,
    wrt: Iterable[Node] | None = None,
    training: bool = False,
    expand: bool | str | Iterable[str] = False,
    title: str | None = None,
    max_width: int | None = MAX_WIDTH,
) -> Picture:
    """The gate view of backprop: the forward graph with, at every op (and at every loss or
    layer drawn as one box), its value, the upstream gradient ∂L/∂out, each input's local
    derivative (rule and numbers), and on each wire the downstream gradient = upstream ×
    local; inputs and params show ∂L/∂them. Hover a node or a wire for the full arrays."""
    check_values(values, "render_backprop")
    check_drawable(loss, "render_backprop: the graph")
    numbers = gate_numbers(loss, values, wrt, training, expand_set(expand))
    return draw_gates(numbers, everything(numbers), title, max_width)
