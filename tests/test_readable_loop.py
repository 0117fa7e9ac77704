"""The readable module writes an unrolled cell (gc.unroll) as one `for t in range(T):` loop,
forward and backward, the cell's lines once, and computes what the fast module computes."""

import os
import re
import runpy

import numpy as np
import pytest

import graphc as gc
from graphc.codegen import build_module

HERE = os.path.dirname(os.path.abspath(__file__))
ADDING = runpy.run_path(os.path.join(HERE, "..", "examples", "adding_lstm.py"))


def model_function(source: str) -> tuple[list[str], list[str]]:
    """The forward and backward lines of `def model(`."""
    start = source.index("def model(")
    lines = source[start : source.index("\n\n\n", start)].splitlines()
    split = next(i for i, line in enumerate(lines) if line.strip().startswith("# backward:"))
    return lines[:split], lines[split:]


def loop_body(lines: list[str], head: str) -> list[str]:
    """The lines inside the one loop whose `for` line starts with `head`."""
    starts = [i for i, line in enumerate(lines) if line.strip().startswith(head)]
    assert len(starts) == 1, [lines[i] for i in starts]
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip()) + 4
    body = []
    for line in lines[starts[0] + 1 :]:
        if len(line) - len(line.lstrip()) < indent:
            break
        body.append(line.strip())
    return body


def agree(loss, predictions, batch, steps=3, optimizer="adam"):
    """Train the readable and the fast module side by side; the largest relative difference
    of the loss and the gradients (norm-wise) over `steps` steps, and the readable source."""
    readable = build_module(loss, optimizer, predictions=predictions, style="readable")
    fast = build_module(loss, optimizer, predictions=predictions)
    modules = [readable.compile("<readable>"), fast.compile("<fast>")]
    runs = [(m, m["init_params"](0), m["init_state"](0)) for m in modules]
    worst = 0.0
    for _ in range(steps):
        (lr, gr), (lf, gf) = [m["loss_and_grads"](p, batch, s) for m, p, s in runs]
        worst = max(worst, abs(lr - lf) / abs(lf))
        for name in gf:
            assert gr[name].dtype == gf[name].dtype and gr[name].shape == gf[name].shape
            worst = max(worst, np.linalg.norm(gr[name] - gf[name]) / np.linalg.norm(gf[name]))
        for m, params, state in runs:
            m["train_step"](params, state, batch)
    (r, pr, sr), (f, pf, sf) = runs
    if predictions is not None:
        got, want = r["forward"](pr, batch, sr), f["forward"](pf, batch, sf)
        worst = max(worst, np.linalg.norm(got - want) / np.linalg.norm(want))
    return worst, readable.source()


def lstm(steps=6, hidden=3, rng=None):
    """An LSTM over `steps` steps from initial states with one row per sequence: h0 made
    from an input by a learned layer (its gradient flows out of the loop), c0 an input."""
    x, y, z = gc.input("x", (None, steps, 2)), gc.input("y", (None, 1)), gc.input("z", (None, 3))
    w = [gc.param(n, (4 * hidden, d)) for n, d in (("w_ih", 2), ("w_hh", hidden))]
    b = gc.param("b", (4 * hidden,))
    h0 = gc.tanh(z @ gc.param("w0", (3, hidden)))
    c0 = gc.input("c0", (None, hidden))
    _, (h, c) = gc.unroll(lambda x_t, s: gc.lstm_cell(x_t, s, *w, b), x, (h0, c0))
    prediction = gc.named(h @ gc.param("V", (hidden, 1)), "prediction")
    loss = gc.mse(prediction, y) + 0.1 * gc.mean(c * c)
    batch = {
        "x": rng.normal(size=(5, steps, 2)),
        "y": rng.normal(size=(5, 1)),
        "z": rng.normal(size=(5, 3)),
        "c0": rng.normal(size=(5, hidden)),
    }
    return loss, prediction, batch


def test_an_unrolled_lstm_is_one_loop_forward_and_one_backward(rng):
    loss, prediction, batch = lstm(rng=rng)
    worst, source = agree(loss, prediction, batch)
    assert worst <= 1e-12, worst
    forward, backward = model_function(source)
    cell = loop_body(forward, "for t in range(6):")
    # the cell's lines once: its three sigmoids and two tanh, one line each, in the loop
    # (the third tanh is h0's)
    assert sum("np.tanh(" in line for line in forward) == 3
    assert sum("np.tanh(" in line for line in cell) == 2
    assert sum(re.search(r"\] = np\.where\(slice", line) is not None for line in cell) == 3
    assert "slice_[t] = x[:, t:t + 1]" in cell  # x_t, the step's slice of the sequence
    assert any(re.search(r"\w+\[t - 1\] @ ", line) for line in cell)  # h_{t-1} W_hhᵀ
    steps = loop_body(backward, "for t in reversed(range(6)):")
    assert not any(re.search(r"\[\d\]", line) for line in backward if "dL_dw" in line)
    assert sum("(1.0 - tanh" in line for line in backward) == 3  # tanh' once per tanh
    assert sum("(1.0 - tanh" in line for line in steps) == 2
    # every gradient line of the step carries its chain-rule step, on it or just above it
    assignments = [i for i, line in enumerate(steps) if re.match(r"dL_d\w+ = ", line)]
    assert len(assignments) >= 20
    for i in assignments:
        var = steps[i].split(" = ")[0]
        if steps[i - 1].startswith(f"{var} = "):  # a long sum's next term: its rule is above
            continue
        assert "# dL/d" in steps[i] or steps[i - 1].startswith("# dL/d"), steps[i]
    # each weight's gradient summed over the steps, dL/d(state) handed to the step before
    for weight in ("w_ih", "w_hh", "b"):
        assert any(line.startswith(f"dL_d{weight} = dL_d{weight} + ") for line in steps)
    assert any(re.search(r"# dL/dmul_\d+\[t - 1\] = ", line) for line in steps)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_the_adding_problem_trains_as_in_the_fast_module(cell):
    """examples/adding_lstm.py's 8-step model: the initial state is one row of zeros, which
    NumPy broadcasts over the batch, so step 1's backward (where that row's gradient is
    summed back) is written out after the loop; the other steps loop."""
    loss, prediction = ADDING["model"](cell)
    batch = ADDING["adding"](16, 8, seed=3)
    worst, source = agree(loss, prediction, batch)
    assert worst <= 1e-12, worst
    forward, backward = model_function(source)
    assert len(loop_body(forward, "for t in range(8):")) >= 6
    assert len(loop_body(backward, "for t in reversed(range(1, 8)):")) >= 6
    assert sum("np.tanh(" in line for line in forward) == (2 if cell == "lstm" else 1)


def test_steps_that_differ_stay_written_out(rng):
    """A cell whose first steps differ (a factor that grows up to step 3) loops over the
    steps from 3 on and writes the first two out; with every step different, no loop."""
    x, y = gc.input("x", (None, 5, 2)), gc.input("y", (None, 3))
    w_ih, w_hh = gc.param("w_ih", (3, 2)), gc.param("w_hh", (3, 3))
    batch = {"x": rng.normal(size=(4, 5, 2)), "y": rng.normal(size=(4, 3))}
    for factors, head in (([0.5, 0.7, 0.9, 0.9, 0.9], "range(2, 5)"), ([1, 2, 3, 4, 5], None)):
        factor = iter(factors)

        def cell(x_t, h):
            return gc.tanh(x_t @ w_ih.T + next(factor) * (h @ w_hh.T))  # noqa: B023

        _, h = gc.unroll(cell, x, gc.input("h0", (None, 3)))
        worst, source = agree(gc.mse(h, y), None, batch | {"h0": rng.normal(size=(4, 3))})
        assert worst <= 1e-12, worst
        forward, backward = model_function(source)
        if head is None:
            assert "for t in" not in source
        else:
            assert len(loop_body(forward, f"for t in {head}:")) >= 4
            assert len(loop_body(backward, f"for t in reversed({head}):")) >= 4


def test_the_readme_shows_the_rnn_loop_as_it_is():
    with open(os.path.join(HERE, "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    shown = readme.split("(model(), 8 steps) reads:\n\n```\n")[1].split("```")[0]
    loss, prediction = ADDING["model"]("rnn")
    source = build_module(loss, "adam", predictions=prediction, style="readable").source()
    forward, backward = model_function(source)
    lines = {line.strip() for line in forward + backward}
    assert all(line.strip() in lines for line in shown.splitlines()), "README excerpt is stale"


def test_a_gru_over_embeddings_loops_and_fills_the_sequence_gradient_slice_by_slice(rng):
    """The sequence comes from an embedding, so its gradient is one more sum over the
    steps: each step adds its slice's dL/dx_t into dL/d(sequence)."""
    ids, y = gc.input("ids", (None, 5), "int64"), gc.input("y", (None, 1))
    xs = gc.embedding(ids, gc.param("table", (7, 2)))
    w = [gc.param("w_ih", (9, 2)), gc.param("w_hh", (9, 3)), gc.param("b_ih", (9,))]
    _, h = gc.unroll(lambda x_t, h: gc.gru_cell(x_t, h, *w), xs, gc.input("h0", (None, 3)))
    prediction = gc.named(h @ gc.param("V", (3, 1)), "prediction")
    batch = {"ids": rng.integers(0, 7, (4, 5)), "y": rng.normal(size=(4, 1))}
    worst, source = agree(
        gc.mse(prediction, y), prediction, batch | {"h0": rng.normal(size=(4, 3))}
    )
    assert worst <= 1e-12, worst
    forward, backward = model_function(source)
    assert len(loop_body(forward, "for t in range(5):")) >= 10
    steps = loop_body(backward, "for t in reversed(range(5)):")
    assert any(re.match(r"dL_d\w+\[:, t:t \+ 1\] \+= dL_d\w+", line) for line in steps)
