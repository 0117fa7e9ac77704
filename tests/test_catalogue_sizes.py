"""The catalogue of issue 21's bad inputs, part two: sizes estimated before anything is
allocated, drawn or run (graphc/limits.py), and the exported modules' share of the feed
checks. Each case asserts the error's words and that it came quickly."""

import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import graphc as gc
import visual
from graphc import cli
from graphc.limits import LIMITS, format_bytes, using
from graphc.trainer import import_trainer

x = gc.input("x", (None, 4))
y = gc.input("y", (None,), "int64")


def test_arrays_too_large_are_refused_with_node_shape_bytes_and_the_way_out():
    c = gc.input("c", (3,), "int64")
    with pytest.raises(
        MemoryError,
        match=r"one_hot \(made at .*test_catalogue_sizes\.py:\d+\) would need a "
        r"\(3, 1000000000000\) float64 array of 21\.8 TiB",
    ):
        gc.evaluate(gc.one_hot(c, 10**12), {"c": np.zeros(3, int)})
    with pytest.raises(
        gc.GraphError,
        match=r"gc.init_params: param 'big' .* \(1000000, 1000000\) float64 array of "
        r"7\.3 TiB, above the limit",
    ):
        gc.init_params(gc.param("big", (10**6, 10**6)))
    with pytest.raises(gc.GraphError, match=r"gc.lower: .*\(1000000, 1000000\) float64"):
        gc.lower(gc.param("huge", (10**6, 10**6)) * 2.0)


def test_a_lowered_function_estimates_at_each_call_from_the_batch():
    f = gc.lower(gc.tanh(x @ gc.param("P", (4, 1000))), ["x", "P"])
    P = np.zeros((4, 1000))
    assert f(np.ones((8, 4)), P).shape == (8, 1000)
    with (
        using(array_bytes=50_000),
        pytest.raises(
            gc.GraphError,
            match=r"f: .*\(8, 1000\) float64 array of 62\.5 KiB, above the limit of 48\.8 KiB",
        ),
    ):
        f(np.ones((8, 4)), P)
    assert f(np.ones((1, 4)), P).shape == (1, 1000)  # the limit is back


def test_the_limit_can_be_raised_and_is_restored():
    old = gc.set_limits(array_bytes=2**20)
    try:
        with pytest.raises(gc.GraphError, match=r"above the limit of 1\.0 MiB per array"):
            gc.evaluate(x * 2.0, {"x": np.ones((100_000, 4))})
        gc.set_limits(array_bytes=2**30)
        assert gc.evaluate(x * 2.0, {"x": np.ones((100_000, 4))}).shape == (100_000, 4)
    finally:
        gc.set_limits(**old)
    assert LIMITS.array_bytes == old["array_bytes"]


@pytest.mark.parametrize(
    "count, text", [(512, "512 bytes"), (3 * 2**30, "3.0 GiB"), (10**40, "9.1e+27 TiB")]
)
def test_format_bytes_handles_any_size(count, text):
    assert format_bytes(count) == text


def test_graphc_cost_on_a_dimension_of_1e30_gives_exact_figures(tmp_path, capsys):
    W = gc.param("W", (4, 3), init="zeros")
    data = gc.serialize.to_json(gc.mean(gc.tanh(x @ W)))
    for node in data["nodes"]:
        if node.get("name") == "W":
            node["shape"] = [4, 10**30]
    (tmp_path / "g.json").write_text(json.dumps(data))
    assert cli.main(["cost", str(tmp_path / "g.json"), "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "(2, 1000000000000000000000000000000)" in out  # the tanh's shape, not an overflow
    assert "16,000,000,000,000,000,000,000,000,000,000" in out  # 2 * 4 * 1e30 * 2 FLOPs


# ---- drawing a 50,000-node chain: every entry point refuses at once ---------------------


@pytest.fixture(scope="module")
def chain():
    h = gc.param("h0", (4,))
    for _ in range(50_000):
        h = gc.tanh(h)
    return gc.sum(h)


DRAWINGS = [
    (
        "render",
        lambda y: visual.render(y),
        r"render: the graph: 50,002 nodes to draw.*collapse=True",
    ),
    (
        "render with values",
        lambda y: visual.render(y, {"h0": np.ones(4)}),
        r"render: the graph: 50,002 nodes",
    ),
    ("render_backward", lambda y: visual.render_backward(y), r"render_backward: .*150,006 nodes"),
    ("render_combined", lambda y: visual.render_combined(y), r"render_combined: .*150,006 nodes"),
    (
        "render_backprop",
        lambda y: visual.render_backprop(y, {"h0": np.ones(4)}),
        r"render_backprop: the graph: 50,002 nodes",
    ),
    (
        "step_through",
        lambda y: visual.step_through(y, {"h0": np.ones(4)}, "/tmp/never.html"),
        r"step_through: the graph: 50,002 nodes",
    ),
    (
        "render_diff",
        lambda y: visual.render_diff(y, y),
        r"render_diff: the two graphs: 100,004 nodes",
    ),
]


@pytest.mark.parametrize("case, draw, words", DRAWINGS, ids=[c[0] for c in DRAWINGS])
def test_drawing_a_50000_node_chain_is_refused_quickly(case, draw, words, chain):
    start = time.perf_counter()
    with pytest.raises(gc.GraphError, match=words) as caught:
        draw(chain)
    assert time.perf_counter() - start < 5  # render_backward used to build for 77 s
    assert "too many for Graphviz" in str(caught.value)
    assert "gc.set_limits(drawn_nodes=...) or GRAPHC_MAX_DRAWN_NODES" in str(caught.value)


def test_a_collapsed_picture_is_counted_before_dot_runs(tmp_path):
    with gc.scope("block"):
        h = gc.param("h0", (4,))
        for _ in range(100):
            h = gc.tanh(h)
    plain = visual.render(gc.sum(h))  # 103 nodes, built under the default limit
    with using(drawn_nodes=50):
        visual.save(visual.render(gc.sum(h), collapse=True), tmp_path / "ok.svg")  # a box
        with pytest.raises(gc.GraphError, match=r"the picture: 102 nodes to draw"):
            visual.save(plain, tmp_path / "no.svg")
        shown = plain._repr_mimebundle_()  # what Jupyter calls: the reason, as text
        assert (
            list(shown) == ["text/plain"]
            and "the picture: 102 nodes to draw" in shown["text/plain"]
        )
    assert (tmp_path / "ok.svg").exists() and not (tmp_path / "no.svg").exists()


def test_a_name_of_100000_characters_is_clipped_in_the_picture(tmp_path):
    picture = visual.render(gc.tanh(gc.input("a" * 100_000, (2,))))
    visual.save(picture, tmp_path / "long.svg")
    svg = (tmp_path / "long.svg").read_text()
    assert "aaa…aaa" in svg and "a" * 100 not in svg


def test_the_command_line_writes_dot_text_of_any_size(tmp_path, capsys):
    model = tmp_path / "chain.py"
    model.write_text(
        "import graphc as gc\n\n\ndef model():\n    h = gc.param('x', (4,))\n"
        "    for _ in range(1700):\n        h = gc.tanh(h * 0.5)\n    return gc.sum(h)\n"
    )
    assert cli.main(["render", str(model), "-o", str(tmp_path / "c.svg")]) == 1
    assert "the forward graph: 5,102 nodes to draw" in capsys.readouterr().err
    assert cli.main(["render", str(model), "-o", str(tmp_path / "c.dot")]) == 0
    assert (tmp_path / "c.dot").stat().st_size > 100_000
    assert LIMITS.drawn_nodes == 5_000  # restored after the .dot


# ---- comparing four ways on a large param: estimated before it starts -------------------


def test_compare_refuses_forward_and_numeric_on_a_large_param_at_once(tmp_path, capsys):
    W = gc.param("W", (4, 3000), init="zeros")
    gc.save(gc.mean(gc.tanh(x @ W)), tmp_path / "g.json")
    start = time.perf_counter()
    with using(seconds=1):
        status = cli.main(
            ["compare", str(tmp_path / "g.json"), "--methods", "numeric", "forward", "reverse"]
        )
    assert time.perf_counter() - start < 10  # forward alone used to run for 37 s
    out = capsys.readouterr().out
    assert status == 0  # reverse mode ran
    assert "forward: one JVP per element of W (12,000 elements) builds about 120,000 nodes" in out
    assert "numeric: 24,000 evaluations of the graph (12,000 elements of W) would take about" in out
    assert "gc.set_limits(seconds=...) or GRAPHC_MAX_SECONDS" in out


def test_compare_still_runs_what_fits():
    W = gc.param("W", (4, 3))
    loss = gc.softmax_cross_entropy(x @ W, y)
    values = gc.init_params(loss) | {"x": np.ones((5, 4)), "y": np.arange(5) % 3}
    report = gc.compare(loss, W, values, methods=["numeric", "forward", "reverse"])
    assert all(r.ok for r in report.results) and report["forward"].max_rel_error < 1e-12


# ---- the exported modules: the same checks (checks.py, copied into the code) ------------


@pytest.fixture(scope="module", params=["numpy", "readable", "jax"])
def module(request, tmp_path_factory):
    """The training module of a batch-norm classifier, in each backend and style, imported."""
    h = x @ gc.param("W", (4, 3))
    h = gc.batch_norm(h, gc.param("g", (3,), init=1.0), gc.param("b", (3,)))
    loss = gc.softmax_cross_entropy(h, y)
    path = tmp_path_factory.mktemp("exported") / "m.py"
    if request.param == "jax":
        pytest.importorskip("jax")
    backend = "jax" if request.param == "jax" else "numpy"
    style = "readable" if request.param == "readable" else "fast"
    gc.export(loss, path, backend=backend, style=style)
    return import_trainer(path)


def _data(rows):
    return {"x": np.random.default_rng(0).normal(size=(rows, 4)), "y": np.arange(rows) % 3}


FIT = [
    ("batch_size=0", {"batch_size": 0}, 8, r"the batch size must be a positive int, got 0"),
    ("epochs=-1", {"epochs": -1}, 8, r"the epochs must be a positive int, got -1"),
    ("lr=nan", {"lr": float("nan")}, 8, r"the learning rate must be positive and finite"),
    (
        "33 rows by 32",
        {"batch_size": 32},
        33,
        r"fit: 33 rows in minibatches of 32 leave a last minibatch of 1 row; batch norm in "
        r"training mode needs at least 2 rows",
    ),
    (
        "batch_size=1",
        {"batch_size": 1},
        8,
        r"fit: 8 rows in minibatches of 1 every minibatch holds 1 row",
    ),
]


@pytest.mark.parametrize("case, options, rows, words", FIT, ids=[c[0] for c in FIT])
def test_exported_fit_makes_the_trainers_checks(module, case, options, rows, words):
    params, state = module["init_params"](0), module["init_state"](0)
    with pytest.raises(ValueError, match=words):
        module["fit"](params, state, _data(rows), **{"epochs": 1, **options}, verbose=False)


def test_exported_loss_and_grads_checks_a_hand_built_batch(module):
    params = module["init_params"](0)
    batch = {"x": np.ones((3, 4)), "y": np.array([7, 0, 1])}
    with pytest.raises(ValueError, match=r"'y' holds the class id 7, outside 0..2"):
        module["loss_and_grads"](params, batch)
    with pytest.raises(ValueError, match=r"'x' is not an array of float64: complex numbers"):
        module["loss_and_grads"](params, {"x": np.ones((3, 4)) * 1j, "y": np.arange(3)})
    if "jax" not in module:  # a JAX module (it imports jax) would compile it first (5 s)
        loss, grads = module["loss_and_grads"](params, {"x": _data(3)["x"], "y": np.arange(3)})
        assert np.isfinite(loss) and set(grads) == {"W", "g", "b"}


def test_exported_modules_carry_one_copy_of_the_checks(module):
    """The functions are graphc's own, copied: the same code refuses in every module."""
    import graphc.checks

    for name in ("check_run", "check_minibatches", "check_class_ids", "as_array"):
        assert module[name].__doc__ == getattr(graphc.checks, name).__doc__
    assert module["MIN_BATCH"][0] == 2 and module["CLASSES"] == {"y": 3}


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    gc.export(gc.softmax_cross_entropy(x @ gc.param("W", (4, 3)), y), folder / "p.py")
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(20, 4)), "y": np.arange(20) % 3}
    np.savez(folder / "xval.npz", **arrays, x_val=arrays["x"][:5])
    np.savez(folder / "ytest.npz", **arrays, y_test=arrays["y"][:5])
    return folder


def _run_script(folder, data, name):
    argv = [sys.executable, name, data, "--epochs", "1", "--quiet"]
    return subprocess.run(argv, cwd=folder, capture_output=True, text=True)


@pytest.mark.parametrize("shape", [(), (3,)], ids=["0-d", "no batch axis"])
def test_an_input_the_module_cannot_cut_into_minibatches_is_refused_at_export(shape, tmp_path):
    """It used to write a script that rejected its own data (the 0-d array has no rows)."""
    t = gc.input("t", shape)
    loss = gc.softmax_cross_entropy(x @ gc.param("W", (4, 3)) * gc.sum(t), y)
    with pytest.raises(
        gc.GraphError,
        match=rf"gc.export: the training module cuts every input into minibatches along its "
        rf"first axis, the batch \(None\); input 't' has shape \({', '.join(map(str, shape))}"
        rf",?\) \(declared at .*test_catalogue_sizes\.py:\d+\): give it a leading None axis, "
        rf"or make it a gc.const",
    ):
        gc.export(loss, tmp_path / "s.py")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "data, words",
    [
        ("xval.npz", r"xval\.npz: has x_val but no y_val; give every input's _val array, or none"),
        ("ytest.npz", r"ytest\.npz: has y_test but no x_test"),
    ],
)
def test_an_exported_script_refuses_a_split_given_in_part(script, data, words):
    done = _run_script(script, data, "p.py")
    assert done.returncode != 0 and re.search(words, done.stderr), done.stderr
