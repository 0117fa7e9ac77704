"""The gate view: the forward graph with, at every gate (an op, or a loss or layer drawn as one
box), the three numbers of the chain rule as the lecture's slides show them: the upstream
gradient ∂L/∂out, the local derivative of each input (its rule, and its numbers for
elementwise gates), and on each input's wire the downstream gradient = upstream × local.
The rules are written as the lecture writes them on the board: an op's by its `OpDef.board`,
a composite's by its `@composite(board=...)`; whether a gate also shows the local
derivative's numbers is the op's own fact (`OpDef.elementwise`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

import graphc as gc
from graphc import GraphError, Node
from graphc.ops.composite import COMPOSITE_ARGUMENTS, COMPOSITE_SCOPES
from graphc.ops.registry import REGISTRY, F, lift

from .annotate import gradient_flow, leaf_values, node_values, reverse_gradients
from .draw import box_groups, box_path
from .labels import caption, denoise, noise_floor, number, summarize
from .mode import live_order, mode_inputs, resolve_mode

INLINE = 6  # arrays up to this many numbers are written out in full on the picture


@dataclass
class Gate:
    """One step of backprop: an op node, or a composite's box (its result and members)."""

    node: Node  # the op, or the composite's result
    inputs: list[Node]  # what flows in from outside the gate
    members: list[Node]  # the nodes the gate stands for (just the op, or the box's nodes)
    composite: str | None = None  # the composite's name when the gate is a box
    outputs: list[Node] = field(default_factory=list)  # a box's other results read outside

    @property
    def title(self) -> str:
        """How the gate is called in the side panel."""
        label = caption(self.node)
        if self.composite:
            label = composite_label(self.composite)
            label = f"{self.node.name} = {label}" if self.node.name else label
        return label


@dataclass
class GateNumbers:
    """Every number of the gate view, computed once (the picture and the page read them)."""

    loss: Node
    order: list[Node]
    training: bool
    expand: bool | frozenset
    values: dict[int, np.ndarray]
    upstream: dict[int, np.ndarray]  # node id -> ∂L/∂node
    downstream: dict[tuple[int, int], np.ndarray]  # (input id, gate node id) -> ∂L along it
    local: dict[tuple[int, int], np.ndarray]  # (input id, gate node id) -> local derivative
    rules: dict[tuple[int, int], str]  # (input id, gate node id) -> the local rule's text
    names: dict[int, str]  # node id -> how the picture and the rules call it (unique)
    gates: list[Gate]
    flow: set[int]
    wrt: list[Node]
    floor: float = 0.0
    groups: dict[int, str] = field(default_factory=dict)
    # a box's other result (an LSTM cell's c′) -> the gradient it receives from outside
    # the box (its upstream there; ∂L/∂c′ in total also holds the path through h′)
    received: dict[int, np.ndarray] = field(default_factory=dict)


def op_rule(op: str, names: list[str]) -> tuple[str, ...]:
    """The local derivative's text per input of an op; an op without a board rule says which
    rule reverse mode runs."""
    board = REGISTRY[op].board
    if board is not None:
        return board(*names)
    return tuple(f"{op}'s vjp rule" for _ in names)


def _elementwise_locals(gate: Gate, names: list[str]) -> tuple[dict, dict]:
    """The rule text per input, and (elementwise ops) the local derivative as a graph: the
    op's vjp rule with an upstream of ones."""
    node = gate.node
    texts = op_rule(node.op, names)
    rules, graphs = {}, {}
    opdef = REGISTRY[node.op]
    for k, child in enumerate(node.inputs):
        rules[(child.id, node.id)] = texts[k] if k < len(texts) else ""
        rule = opdef.vjp[k] if opdef.vjp and not isinstance(opdef.vjp, str) else None
        # the op's own fact: numbers are local; only beside a board rule that says them. An
        # op that routes its upstream to a winner (max pooling: a kink, not elementwise) has
        # as its local numbers where an upstream of ones goes: 1 at each window's winner
        routing = opdef.kink is not None and opdef.arity == 1
        if (opdef.elementwise or routing) and rule is not None and opdef.board is not None:
            graphs[(child.id, node.id)] = rule(F.broadcast_like(lift(1.0, node), node), node)
    return rules, graphs


def find_gates(
    order: list[Node], expand: bool | frozenset, training: bool | None = None
) -> tuple[list[Gate], dict]:
    """The gates of a graph in forward order (what flows into each in this mode), and each
    boxed node's composite path."""
    live = {n.id for n in order}
    groups = box_groups(order, 0, expand)
    members: dict[str, list[Node]] = {}
    for node in order:
        if node.id in groups:
            members.setdefault(groups[node.id], []).append(node)
    gates, done = [], set()
    for node in order:
        group = groups.get(node.id)
        reads = [c for c in mode_inputs(node, training) if c.id in live]
        if group is None and not node.is_leaf:
            gates.append(Gate(node, list(dict.fromkeys(reads)), [node]))
        elif group is not None and group not in done and node is members[group][-1]:
            done.add(group)
            inside = {m.id for m in members[group]}
            outside = [
                c
                for m in members[group]
                for c in mode_inputs(m, training)
                if c.id not in inside and c.id in live
            ]
            name = box_path(group).rsplit("/", 1)[-1]
            gates.append(Gate(node, list(dict.fromkeys(outside)), members[group], name))
    read_outside = {
        c.id
        for n in order
        for c in mode_inputs(n, training)
        if c.id in groups and groups.get(n.id) != groups[c.id]
    }
    for gate in gates:  # an LSTM cell's c′ beside its h′
        gate.outputs = [m for m in gate.members[:-1] if m.id in read_outside and gate.composite]
    return gates, groups


SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def display_names(order: list[Node], gates: list[Gate], training: bool | None) -> dict[int, str]:
    """How every node is called on the picture and in the rules, one name per node: its own
    name; a box's composite label; a mode switch inside a layer, the layer's label (the
    switch's own label is machinery); else its op's label. Unnamed nodes that would share a
    name are numbered in forward order (mul₁, mul₂)."""
    boxes = {g.node.id: g for g in gates if g.composite}
    base: dict[int, str] = {}
    for node in order:
        if node.name:
            base[node.id] = node.name
        elif node.id in boxes:
            base[node.id] = composite_label(boxes[node.id].composite)
        elif REGISTRY[node.op].mode is not None:
            layer = next((p for p in (node.scope or "").split("/") if p in COMPOSITE_SCOPES), None)
            branch = "training branch" if training else "inference branch"
            base[node.id] = composite_label(layer) if layer else branch
        else:  # "reshape(shape=(-1, 1, 1))" is called "reshape" in a sentence
            base[node.id] = re.sub(r"^(\w+)\(.*\)$", r"\1", caption(node))
    hidden = {m.id for g in gates if g.composite for m in g.members if m is not g.node}
    counted = [n for n in order if not n.name and n.op != "const" and n.id not in hidden]
    seen: dict[str, int] = {}
    totals: dict[str, int] = {}
    for node in counted:
        totals[base[node.id]] = totals.get(base[node.id], 0) + 1
    for node in counted:
        name = base[node.id]
        if totals[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            base[node.id] = f"{name}{str(seen[name]).translate(SUBSCRIPTS)}"
    for gate in gates:  # a box's other output read outside it (an LSTM cell's c′)
        for k, member in enumerate(gate.outputs, 2):
            if not member.name:
                base[member.id] = f"{base[gate.node.id]}'s output {k}"
    return base


def composite_label(name: str) -> str:
    """How a composite's box is called: its label, or its builder's name."""
    spec = COMPOSITE_SCOPES.get(name)
    return (spec.label if spec else None) or name.replace("_", " ")


def gate_numbers(
    loss: Node,
    values: Mapping,
    wrt: Iterable[Node] | None = None,
    training: bool = False,
    expand: bool | frozenset = False,
) -> GateNumbers:
    """Evaluate everything the gate view shows, with reverse mode's own rules."""
    if not isinstance(values, Mapping) or not values:
        raise GraphError(
            "the gate view shows numbers: give values= with every input and param by name"
        )
    mode = bool(resolve_mode(training, values))
    order = live_order(gc.topological_order(loss), [loss], mode)
    leaves = leaf_values(order, values)
    upstream, parts = reverse_gradients(order, [loss], leaves, mode)
    flow = gradient_flow(order, [loss])
    gates, groups = find_gates(order, expand, mode)
    names = display_names(order, gates, mode)
    rules, graphs, downstream, received = {}, {}, {}, {}
    for gate in gates:
        for child in gate.inputs:
            if child.id not in flow:
                continue
            flows = [parts[(child.id, m.id)] for m in gate.members if (child.id, m.id) in parts]
            if flows and gate.node.id in flow:
                downstream[(child.id, gate.node.id)] = sum(flows[1:], flows[0])
        inside = {m.id for m in gate.members}
        for other in gate.outputs:
            flows = [
                parts[(other.id, n.id)]
                for n in order
                if n.id not in inside and (other.id, n.id) in parts
            ]
            if flows:
                received[other.id] = sum(flows[1:], flows[0])
        if gate.composite is None:
            r, g = _elementwise_locals(
                gate, [names.get(c.id, caption(c)) for c in gate.node.inputs]
            )
            rules.update(r)
            graphs.update({k: v for k, v in g.items() if k[0] in flow})
    arrays = gc.evaluate(list(graphs.values()), leaves, training=mode) if graphs else []
    wrt = gc.params(loss) if wrt is None else list(wrt)
    floor = max((noise_floor(g) for k, g in upstream.items() if k in flow), default=0.0)
    return GateNumbers(
        loss,
        order,
        mode,
        expand,
        node_values(order, values, mode),
        {k: v for k, v in upstream.items() if k in flow},
        downstream,
        dict(zip(graphs, arrays)),
        rules,
        names,
        gates,
        flow,
        wrt,
        floor,
        groups,
        received,
    )


def summed_terms(numbers: GateNumbers, key: tuple[int, int]) -> tuple[np.ndarray, str] | None:
    """Where an input was broadcast forward (a bias over the rows of a batch), its downstream
    gradient is a sum: the terms upstream × local at the gate's shape, and what they are
    summed over; None where upstream × local is the downstream itself."""
    if key not in numbers.local:
        return None
    local = np.asarray(numbers.local[key])
    down = np.asarray(numbers.downstream[key])
    if local.shape == down.shape:
        return None
    terms = np.asarray(numbers.upstream[key[1]]) * local
    lead = local.ndim - down.ndim
    axes = list(range(lead)) + [
        lead + k for k, d in enumerate(down.shape) if d == 1 and local.shape[lead + k] > 1
    ]
    if axes == [0] and local.ndim == 2:
        return terms, "over the batch (rows)"
    rest = ", ".join(str(a) for a in axes if a)
    if axes and axes[0] == 0:
        plural = "axes" if len(axes) > 2 else "axis"
        return terms, "over the batch" + (f" (axis 0) and {plural} {rest}" if rest else "")
    return terms, f"over the broadcast {'axes' if len(axes) > 1 else 'axis'} {rest}"


def short(array, floor: float = 0.0, rows: bool = False) -> str:
    """A number or small array for the picture: in full up to six numbers, else summarized;
    with `rows`, a matrix keeps one line per row (a narrower node)."""
    a = denoise(np.asarray(array), floor)
    if a.size == 0:
        return "empty"
    if a.dtype != bool and a.size > 1 and np.all(a == a.reshape(-1)[0]):
        return f"{number(float(a.reshape(-1)[0]))} (every entry)"
    if a.size == 1 or a.size > INLINE or a.dtype == bool:
        return summarize(a, floor)
    return np.array2string(
        a, separator=", ", formatter={"all": lambda v: number(float(v))}, max_line_width=200
    ).replace("\n", "\n" if rows else "")


def matrix(array, floor: float = 0.0, limit: int = 60) -> str:
    """An array as rows of four-digit numbers, for the page's side panel (summarized when
    it has more than `limit` numbers)."""
    a = denoise(np.asarray(array), floor)
    if a.size <= 1 or a.size > limit or a.dtype == bool:
        return short(a, floor)
    shape = ""
    if a.ndim > 2 and a.squeeze().ndim <= 2:  # a conv bias (32, 1, 1): one line, not 32
        shape, a = f" (shape {a.shape})", a.squeeze()
    text = np.array2string(a, separator=", ", formatter={"all": lambda v: number(float(v))})
    return text + shape


def full(array, floor: float = 0.0, limit: int = 200) -> str:
    """Every number of an array (up to `limit`, else its corners), for the tooltip."""
    a = denoise(np.asarray(array), floor)
    return np.array2string(
        a,
        separator=", ",
        threshold=limit,
        edgeitems=2,
        max_line_width=10_000,
        formatter={"all": lambda v: "0" if v == 0 else f"{float(v):.8g}"},
    ).replace("\n", "")


def composite_rules(numbers: GateNumbers, gate: Gate) -> tuple[str, ...]:
    """The board rule of a composite drawn as one box, in the names of the nodes given for
    its arguments and for the mode the numbers use; a clause giving the derivative with
    respect to an argument that is a constant (a layer norm's beta of 0.0) is left out."""
    spec = COMPOSITE_SCOPES.get(gate.composite)
    if spec is None:
        return ()
    given = COMPOSITE_ARGUMENTS.get(gate.node, {})

    def name(v):
        if isinstance(v, Node):
            return numbers.names.get(v.id, caption(v))
        return tuple(map(name, v)) if isinstance(v, tuple) else v

    names = {k: name(v) for k, v in given.items()}
    constants = [v for v in given.values() if isinstance(v, str)]  # reprs of other values
    lines = []
    for line in spec.lines(names, numbers.training):
        for value in constants:
            line = re.sub(rf",? ?∂/∂{re.escape(value)} = [^,(]*?(?=\s*[,(]|\s*$)", "", line).strip()
        if line:
            lines.append(line.removeprefix(", "))
    return tuple(lines)
