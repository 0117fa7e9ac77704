"""Every rule the gate view writes is the rule that made the numbers beside it, in both modes.

For every registered op (walking the registry) and every composite graphc defines, the numbers
the picture prints (its tooltips: the upstream, each local factor, each downstream on a wire)
are compared with gradients derived here independently: `gc.vjp` of the op alone, `gc.grad` of
the whole loss, and, for an elementwise op, the board rule itself read as a formula and
evaluated with NumPy. A composite's board is checked by its own formula, written in NumPy
for the mode the numbers use in tests/gate_formulas.py."""

import html
import math
import re

import numpy as np
import pytest

import graphc as gc
from gate_formulas import COMPOSITES, lstm_board
from graphc.ops.composite import COMPOSITE_SCOPES
from graphc.ops.registry import REGISTRY, apply
from visual.backprop import everything, gate_drawing, routes
from visual.gates import composite_rules, gate_numbers, matrix, summed_terms

NUMBERS = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|-?inf")


def printed(text: str) -> np.ndarray:
    """The numbers of a printed array ('[[1, -0.5], [2e-05, 3]]')."""
    return np.array([float(v) for v in NUMBERS.findall(text.replace("−", "-"))])


def tips(drawing, node) -> dict[str, np.ndarray]:
    """'what = numbers' parts of a node's tooltip, by what."""
    parts = (p.rsplit(" = ", 1) for p in drawing.tooltips[node.id].split("; ") if " = " in p)
    return {what: printed(numbers) for what, numbers in parts}


def wire(drawing, child, gate) -> np.ndarray:
    """The downstream gradient the tooltip of a gate's wire from `child` prints."""
    member = next(m for m in gate.members if child in m.inputs)
    return printed(drawing.edges[(child.id, member.id)]["labeltooltip"].rsplit(" = ", 1)[1])


def close(shown, want):
    np.testing.assert_allclose(shown, np.ravel(want), rtol=1e-7, atol=1e-12)


# ---- the board written as a formula -----------------------------------------------------

FUNCTIONS = {
    "π": np.pi,
    "Φ": np.vectorize(lambda v: 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))),  # normal CDF
    "φ": lambda v: np.exp(-v * v / 2) / np.sqrt(2 * np.pi),  # and density
    "where": np.where,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "sign": np.sign,
    "tanh": np.tanh,
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
}


def formula(text: str) -> str | None:
    """A board rule as a NumPy expression, or None when it is words ('upstream reshaped
    back')."""
    text = text.split(") = ", 1)[1] if "'(" in text else text  # relu'(x) = ...: the right side
    t = text.replace("−", "-").replace("·", "*").replace("≥", ">=").replace("^", "**")
    t = re.sub(r"(\w+)²\(([^()]*)\)", r"\1(\2)**2", t)  # tanh²(x)
    t = re.sub(r"(\w+)²", r"\1**2", t)
    t = re.sub(r"(\d)√", r"\1*√", t)
    t = re.sub(r"√(\w+)", r"sqrt(\1)", t)
    t = re.sub(r"log (\w+)", r"log(\1)", t)
    t = re.sub(r"\b([a-z])\(", r"\1*(", t)  # x(1 - ...): a product, not a call
    t = t.replace("α", "alpha")  # an op's attribute, in the lecture's letter
    t = t.replace("σ", "sigmoid").replace(")(", ")*(")
    if m := re.fullmatch(r"1 where (not )?(\w+)", t):
        return f"where({m[2]}, {0 if m[1] else 1}, {1 if m[1] else 0})"
    if m := re.fullmatch(r"(.+) if (.+) else (.+)", t):
        return f"where({m[2]}, {m[1]}, {m[3]})"
    if re.search(
        r"[A-Za-z]{2,}", re.sub(r"\b(where|sqrt|exp|log|sign|tanh|sigmoid|alpha)\b", "", t)
    ):
        return None
    return t


def op_cases():
    for name, opdef in sorted(REGISTRY.items()):
        if opdef.leaf or opdef.nondiff or opdef.samples is None:
            continue
        yield name


@pytest.mark.parametrize("op", list(op_cases()))
def test_an_ops_gate_prints_its_rules_numbers(op):
    opdef = REGISTRY[op]
    rng = np.random.default_rng(3)
    arrays, attrs = opdef.samples(rng)[0]
    names = ["x"] if opdef.arity == 1 else list("abc"[: opdef.arity])
    leaves = [gc.input(n, np.shape(a), np.asarray(a).dtype.name) for n, a in zip(names, arrays)]
    node = apply(op, *leaves, **attrs)
    if node.dtype != "float64":
        pytest.skip(f"{op} gives {node.dtype}: no gradient flows through it")
    cotangent = rng.normal(size=node.shape)
    loss = gc.sum(node * gc.const(cotangent))
    values = dict(zip(names, map(np.asarray, arrays)))
    for training in (False, True):
        numbers = gate_numbers(loss, values, training=training)
        drawing = gate_drawing(numbers, everything(numbers))
        (gate,) = [g for g in numbers.gates if g.node is node]
        shown = tips(drawing, node)
        close(shown["↑ upstream ∂L/∂out"], cotangent)
        floats = [leaf for leaf in leaves if leaf.dtype == "float64"]
        wants = gc.evaluate(
            gc.vjp([node], [gc.const(cotangent)], floats), values, training=training
        )
        for leaf, want in zip(floats, wants):
            key = (leaf.id, node.id)
            if np.all(want == 0) and key not in numbers.downstream:
                continue  # an input the op only reads (where's condition, a shape)
            close(wire(drawing, leaf, gate), want)
            rule = numbers.rules[key]
            assert set(re.findall(r"\b[abcx]\b", rule)) <= set(names), (op, rule)
            if key not in numbers.local:
                continue
            local = np.asarray(numbers.local[key])
            if f"local ∂out/∂{leaf.name}" in shown:
                close(shown[f"local ∂out/∂{leaf.name}"], local)
            if routes(rule):  # max pooling: its numbers are where an upstream of ones goes
                ones = gc.const(np.ones(node.shape))
                close(local.ravel(), gc.evaluate(gc.vjp([node], [ones], [leaf]), values)[0])
                continue
            terms = np.broadcast_to(cotangent * local, node.shape)
            summed = summed_terms(numbers, key)
            total = terms if summed is None else summed[0]
            np.testing.assert_allclose(
                np.sum(total.reshape((-1, *np.shape(want))), axis=0)
                if summed is not None
                else total,
                want,
                rtol=1e-10,
                atol=1e-12,
            )
            expression = formula(rule.split(" = ")[0] if "'(" not in rule else rule)
            assert expression is not None, f"{op}: the rule {rule!r} beside numbers is no formula"
            env = {n: values[n] for n in names} | dict(node.attrs) | FUNCTIONS
            from_rule = np.broadcast_to(eval(expression, {}, env), local.shape)  # noqa: S307
            np.testing.assert_allclose(from_rule, local, rtol=1e-10, atol=1e-12, err_msg=op)


def test_every_composite_graphc_defines_has_its_board_checked():
    ours = {k for k in COMPOSITE_SCOPES if COMPOSITE_SCOPES[k].board}
    missing = {k for k in ours if k not in COMPOSITES}
    assert not missing, f"add the board's formula of {missing} to COMPOSITES in this test"


@pytest.mark.parametrize("name", sorted(COMPOSITES))
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_a_composites_box_prints_its_boards_numbers(name, training):
    build, samples, words, rule = COMPOSITES[name]
    rng = np.random.default_rng(4)
    values = {k: v if isinstance(v, np.ndarray) else rng.normal(size=v) for k, v in samples.items()}
    leaves = {
        k: gc.input(k, v.shape, v.dtype.name)
        if k != "gamma" and k != "beta"
        else gc.param(k, v.shape)
        for k, v in values.items()
    }
    out = build(leaves)
    upstream = rng.normal(size=out.shape)
    loss = gc.sum(out * gc.const(upstream))
    numbers = gate_numbers(loss, values, training=training)
    (gate,) = [g for g in numbers.gates if g.composite == name]
    text = " ".join(composite_rules(numbers, gate))
    assert words[training] in text, text
    for other in ("z", "train | eval", "update ", "running_var"):
        assert other not in re.split(r"[\s(),/·=]+", text) or other in values, (other, text)
    drawing = gate_drawing(numbers, everything(numbers))
    expected = rule(values, upstream, training)
    for k, leaf in leaves.items():
        if leaf.dtype != "float64":
            continue
        want = gc.evaluate(gc.grad(loss, leaf), values, training=training)
        close(wire(drawing, leaf, gate), want)  # the printed number is reverse mode's
        if k in expected:  # and the board's own formula gives it
            np.testing.assert_allclose(expected[k], want, rtol=1e-9, atol=1e-12, err_msg=k)


def test_two_unnamed_inputs_get_distinct_names_and_labels_are_not_averaged():
    x = gc.input("x", (3,))
    loss = gc.sum(x * 2.0 + x * 3.0)
    numbers = gate_numbers(loss, {"x": np.array([1.0, 2.0, 3.0])})
    add = next(g for g in numbers.gates if g.node.op == "add")
    assert [numbers.names[c.id] for c in add.inputs] == ["mul₁", "mul₂"]
    assert {numbers.rules[(c.id, add.node.id)] for c in add.inputs} == {"1"}
    from visual.labels import summarize

    assert summarize(np.arange(3, 13)) == "[3, 4, 5, 6, 7, 8, 9, 10, …] (10 integers)"


def test_no_mode_switch_or_internal_node_is_named_in_a_sentence():
    from graphc.modelfile import load_model
    from visual.page import frames

    model = load_model("examples/batchnorm.py")
    rng = np.random.default_rng(0)
    values = gc.init_params(model.loss) | {"x": rng.normal(size=(3, 64)), "y": np.array([0, 2, 1])}
    for training in (False, True):
        for expand in (False, True):
            numbers = gate_numbers(model.loss, values, training=training, expand=expand)
            text = " ".join(re.sub("<[^>]+>", " ", panel) for _, panel, _ in frames(numbers))
            assert "state (running statistics): bn.running_mean, bn.running_var" in text
            for leak in ("train | eval", "update bn", "∂/∂z", "∂/∂x "):
                assert leak not in text, (training, expand, leak)
            assert ("running mean" in text) is (not training and not expand)
            assert ("batch mean" in text) is (training and not expand)


def test_calls_of_one_composite_in_one_scope_are_boxes_of_their_own():
    rng = np.random.default_rng(5)
    w1, w2 = gc.param("w1", (2, 3)), gc.param("w2", (3,))
    loss = gc.l2(w1) + gc.l2(w2)  # both calls run in scope "l2"
    values = {"w1": rng.normal(size=(2, 3)), "w2": rng.normal(size=3)}
    numbers = gate_numbers(loss, values)
    boxes = [g for g in numbers.gates if g.composite == "l2"]
    assert [[c.name for c in g.inputs] for g in boxes] == [["w1"], ["w2"]]
    assert [numbers.names[g.node.id] for g in boxes] == ["L2 penalty₁", "L2 penalty₂"]
    drawing = gate_drawing(numbers, everything(numbers))
    for gate, w in zip(boxes, (w1, w2)):
        assert composite_rules(numbers, gate) == (f"∂/∂{w.name} = 2 {w.name}",)
        close(wire(drawing, w, gate), 2 * values[w.name])
    from visual.backprop import draw_gates
    from visual.output import pipe

    svg = pipe(draw_gates(numbers, everything(numbers), None, None), "svg").decode()
    assert svg.count(">L2 penalty₁<") == 1 and svg.count(">L2 penalty₂<") == 1  # two boxes


def test_max_poolings_panel_says_which_entry_won_each_window_and_matrix_products_route():
    from visual.page import frames

    x = gc.input("img", (1, 1, 2, 4))
    W = gc.param("W", (2, 3))
    pooled = gc.max_pool2d(x, 2)  # two windows of 2x2
    loss = gc.sum(gc.flatten(pooled) @ W)
    img = np.array([[[[1.0, 5.0, 2.0, 2.0], [5.0, 0.0, 3.0, -1.0]]]])  # a tie: the first wins
    numbers = gate_numbers(loss, {"img": img, "W": np.arange(6.0).reshape(2, 3)})
    text = " ".join(re.sub("<[^>]+>", " ", panel) for _, panel, _ in frames(numbers))
    text = " ".join(text.split())
    assert "∂L/∂img = upstream to the winner of each window" in text
    won = "[[0, 1, 0, 0], [0, 0, 1, 0]] (shape (1, 1, 2, 4))"
    assert f"winners (1 where an entry of img won) = {won}" in text
    assert "first window of img (row 0, channel 0) = [[1, 5], [5, 0]]" in text
    up = 0 + 1 + 2  # ∂L/∂pooled[0, 0, 0, 0]: the first row of W, summed
    assert f"its first maximum 5, at (0, 1) in the window, wins and gets the upstream {up}" in text
    assert "∂L/∂flatten = upstream · Wᵀ" in text and "local ∂out/∂flatten" not in text


def test_a_bias_gradient_is_shown_as_its_terms_then_their_sum_over_the_named_axes():
    from visual.page import frames

    x = gc.input("x", (2, 1, 3, 3))
    h = gc.conv(x, 2, 2, padding="valid", name="c")  # a bias over batch and positions
    b = gc.param("b", (3,))
    loss = gc.sum(gc.tanh(gc.flatten(h) @ gc.param("W", (8, 3)) + b))
    rng = np.random.default_rng(6)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 1, 3, 3))}
    numbers = gate_numbers(loss, values)
    text = " ".join(re.sub("<[^>]+>", " ", panel) for _, panel, _ in frames(numbers))
    text = " ".join(text.split())
    (db,) = gc.evaluate(gc.grad(loss, [b]), values)
    assert f"downstream = Σ over the batch (rows) = {matrix(db)}" in text
    assert "downstream = Σ over the batch (axis 0) and axes 2, 3 = " in text
    assert "upstream × local, term by term = " in text


def test_an_lstm_box_shows_the_upstream_of_its_cell_state_too():
    from visual.page import frames

    rng = np.random.default_rng(7)
    shapes = {"xt": (2, 2), "h0": (2, 3), "c0": (2, 3), "Wi": (12, 2), "Wh": (12, 3), "bi": (12,)}
    values = {k: rng.normal(size=v) for k, v in shapes.items()}
    leaves = {k: gc.input(k, v) for k, v in shapes.items()}
    h, c = gc.lstm_cell(
        leaves["xt"], (leaves["h0"], leaves["c0"]), *map(leaves.get, ("Wi", "Wh", "bi"))
    )
    up_h, up_c = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    loss = gc.sum(h * gc.const(up_h)) + gc.sum(gc.tanh(c) * gc.const(up_c))  # c′ read outside
    numbers = gate_numbers(loss, values)
    (gate,) = [g for g in numbers.gates if g.composite == "lstm_cell"]
    assert gate.outputs == [c] and numbers.names[c.id] == "LSTM cell's output 2"
    delta_c = up_c * (1 - np.tanh(gc.evaluate(c, values)) ** 2)
    expected = lstm_board(values, up_h, False, delta_c)
    drawing = gate_drawing(numbers, everything(numbers))
    for k, leaf in leaves.items():
        want = gc.evaluate(gc.grad(loss, leaf), values)
        close(wire(drawing, leaf, gate), want)
        np.testing.assert_allclose(expected[k], want, rtol=1e-9, atol=1e-12, err_msg=k)
    text = html.unescape(" ".join(re.sub("<[^>]+>", " ", p) for _, p, _ in frames(numbers)))
    shown = " ".join(matrix(delta_c).split())
    assert f"upstream ∂L/∂LSTM cell's output 2 = {shown}" in " ".join(text.split())
    close(tips(drawing, gate.node)["↑ upstream ∂L/∂LSTM cell's output 2"], delta_c)


def test_an_imported_models_gemm_boards_name_the_onnx_values_and_give_their_numbers():
    (logits,) = gc.from_onnx("tests/fixtures/torch_mlp.onnx")  # Gemm, Relu, Gemm (torch)
    loss = gc.softmax_cross_entropy(logits, gc.input("y", (None,), "int64"))
    rng = np.random.default_rng(8)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 4)), "y": np.array([0, 1])}
    numbers = gate_numbers(loss, values)
    drawing = gate_drawing(numbers, everything(numbers))
    gates = [g for g in numbers.gates if g.composite == "gemm"]
    assert len(gates) == 2
    for gate in gates:
        a, w, c = (
            numbers.names[n.id] for n in gate.inputs[1:2] + gate.inputs[:1] + gate.inputs[2:]
        )
        rules = composite_rules(numbers, gate)
        assert rules[:3] == (
            f"out = {a} {w}ᵀ + {c}, δ = upstream",
            f"∂/∂{a} = δ {w}",
            f"∂/∂{w} = δᵀ {a}",
        )
        up = numbers.upstream[gate.node.id]
        ins = {numbers.names[n.id]: n for n in gate.inputs}
        A, W = numbers.values[ins[a].id], numbers.values[ins[w].id]
        for name, want in ((a, up @ W), (w, up.T @ A), (c, up.sum(0))):  # the board's formulas
            close(wire(drawing, ins[name], gate), want)
            close(wire(drawing, ins[name], gate), gc.evaluate(gc.grad(loss, ins[name]), values))
