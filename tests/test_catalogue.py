"""A catalogue of bad inputs (API, CLI, JSON graph files, exported script), each with the
one-line error it must give. Nothing here may end in a raw crash, an "internal error", a
silent wrong number or a lost file."""

import json
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc import cli

# ---- the API ----------------------------------------------------------------------------


def _net(classes=3, batch_norm=False):
    x = gc.input("x", (None, 4))
    y = gc.input("y", (None,), "int64")
    h = x @ gc.param("W", (4, classes))
    if batch_norm:
        h = gc.batch_norm(h, gc.param("g", (classes,), init=1.0), gc.param("b", (classes,)))
    return gc.softmax_cross_entropy(h, y)


def _feed(rows=5, **given):
    loss = _net(batch_norm=given.pop("batch_norm", False))
    values = gc.init_params(loss) | {"x": np.ones((rows, 4)), "y": np.arange(rows) % 3} | given
    return loss, values


def _evaluate(training=False, **given):
    loss, values = _feed(**given)
    return gc.evaluate(loss, values, training=training)


m = gc.input("m", (2, 3))

API = [
    # class ids: a wrong one would be an all-zero one-hot row, a zero loss counted in the mean
    (
        "class id 3 of 3",
        lambda: _evaluate(y=np.array([0, 1, 2, 3, 0])),
        r"class id 3, outside 0..2",
    ),
    ("class id 7", lambda: _evaluate(y=np.array([7, 1, 2, 0, 0])), r"class id 7, outside 0..2"),
    ("class id -1", lambda: _evaluate(y=np.array([0, -1, 2, 0, 0])), r"class id -1, outside"),
    ("class id 2**62", lambda: _evaluate(y=np.array([2**62, 1, 2, 0, 0])), r"outside 0..2"),
    ("float labels", lambda: _evaluate(y=np.array([0.5, 1.9, 0, 0, 0])), r"not a whole number"),
    ("1-row y, 5-row x", lambda: _evaluate(y=np.array([1])), r"same batch size.*x has 5"),
    ("empty batch", lambda: _evaluate(rows=0), r"the batch is empty"),
    (
        "one-row batch norm in training",
        lambda: _evaluate(rows=1, training=True, batch_norm=True),
        r"batch norm in training mode needs at least 2 rows",
    ),
    ("complex input", lambda: _evaluate(x=np.ones((5, 4)) * 1j), r"complex numbers"),
    ("x[..., 10] of 4", lambda: gc.input("a", (None, 4))[..., 10], r"index 10 is out of range"),
    (
        "batch meets a fixed size",
        lambda: gc.input("a", (None, 4)) + gc.param("P", (4, 4)),
        r"batch dimension \(None\) would have to be 4",
    ),
    (
        "batch contracts with a fixed size",
        lambda: gc.input("v", (None,)) @ gc.param("u", (4,)),
        r"inner dimensions differ",
    ),
    ("one_hot depth 0", lambda: gc.one_hot(gc.input("c", (3,), "int64"), 0), r"depth must be"),
    ("one_hot depth 2.5", lambda: gc.one_hot(gc.input("c", (3,), "int64"), 2.5), r"depth must"),
    ("batch_norm eps=-1", lambda: _bn(eps=-1), r"eps must be a positive number"),
    ("shape (True, 3)", lambda: gc.input("t", (True, 3)), r"must hold positive ints"),
    ("shape (-1, 3)", lambda: gc.param("t", (-1, 3)), r"must hold positive ints"),
    ("export lr=-1", lambda: gc.export(_net(), "/tmp/unused.py", lr=-1), r"lr must be positive"),
    (
        "export momentum=5",
        lambda: gc.export(_net(), "/tmp/unused.py", "momentum", momentum=5),
        r"momentum must be in \[0, 1\)",
    ),
    (
        "export beta1=2",
        lambda: gc.export(_net(), "/tmp/unused.py", "adam", beta1=2),
        r"beta1 must be in \[0, 1\)",
    ),
    ("grad of a number", lambda: gc.grad(3.0, gc.param("w", (2,))), r"graph node"),
    ("evaluate without values", lambda: gc.evaluate(_net(), None), r"values must be"),
    ("np.exp(node)", lambda: np.exp(m), r"use gc\.exp"),
    (
        "float class ids",
        lambda: gc.softmax_cross_entropy(gc.input("z", (None, 3)), gc.input("f", (None,))),
        r"class ids, which must be integers",
    ),
    (
        "hessian of a 784x256 param",
        lambda: gc.hessian(gc.l2(W := gc.param("P", (784, 256))), W, {"P": np.zeros((784, 256))}),
        r"200,704 x 200,704.*max_entries",
    ),
]


def _bn(eps):
    x = gc.input("x", (None, 3))
    return gc.batch_norm(x, gc.param("g", (3,)), gc.param("b", (3,)), eps=eps)


@pytest.mark.parametrize("case, run, message", API, ids=[c[0] for c in API])
def test_api_catalogue(case, run, message):
    with pytest.raises(gc.GraphError, match=message) as caught:
        run()
    assert "\n" not in str(caught.value).strip()


GOOD = [
    ("logsumexp over two axes", lambda: gc.logsumexp(m, axis=(0, 1)), ()),
    ("logsumexp over all axes", lambda: gc.logsumexp(m, axis=None), ()),
    ("softmax over all axes", lambda: gc.softmax(m, axis=None), (2, 3)),
    ("transpose with negative axes", lambda: gc.transpose(m, (-1, 0)), (3, 2)),
]


@pytest.mark.parametrize("case, run, shape", GOOD, ids=[c[0] for c in GOOD])
def test_what_numpy_accepts_works(case, run, shape):
    node = run()
    assert node.shape == shape
    value = np.arange(6.0).reshape(2, 3)
    got = gc.evaluate(node, {"m": value})
    axes = None if case != "transpose with negative axes" else (1, 0)
    if case.startswith("logsumexp"):
        np.testing.assert_allclose(got, np.log(np.exp(value).sum()))
    elif case.startswith("softmax"):
        np.testing.assert_allclose(got, np.exp(value) / np.exp(value).sum())
    else:
        np.testing.assert_array_equal(got, value.transpose(axes))


# ---- the command line and JSON graph files ----------------------------------------------

MODEL = """
import numpy as np
import graphc as gc


def model():
    x = gc.input("x", (None, 4))
    y = gc.input("y", (None,), "int64")
    logits = x @ gc.param("W", (4, 3))
    return gc.softmax_cross_entropy(logits, y), logits


def data():
    return {DATA}
"""

GOOD_DATA = '{"x": np.ones((6, 4)), "y": np.arange(6) % 3}'


def _model(folder, data=GOOD_DATA):
    path = folder / "m.py"
    path.write_text(MODEL.replace("{DATA}", data))
    return str(path)


def _graph(folder, text):
    path = folder / "g.json"
    path.write_text(text)
    return str(path)


def _saved(folder, edit):
    loss = gc.softmax_cross_entropy(gc.input("z", (None, 3)), gc.input("y", (None,), "int64"))
    data = gc.serialize.to_json(loss)
    edit(data)
    return _graph(folder, json.dumps(data))


def _deep(depth):
    return '{"format": "graphc-graph", "version": 1, "nodes": ' + "[" * depth + "]" * depth + "}"


CLI = [
    (
        "class id out of range in data()",
        lambda f: ["train", _model(f, '{"x": np.ones((4, 4)), "y": np.array([0, 1, 3, 0])}')],
        r"class id 3, outside 0..2",
    ),  # noqa: E501
    (
        "empty data()",
        lambda f: ["train", _model(f, '{"x": np.ones((0, 4)), "y": np.zeros(0, int)}')],
        r"has no rows",
    ),  # noqa: E501
    (
        "data() of strings",
        lambda f: ["train", _model(f, '{"x": np.full((2, 4), "a"), "y": np.zeros(2, int)}')],
        r"holds <U1 values",
    ),  # noqa: E501
    (
        "float labels in data()",
        lambda f: ["train", _model(f, '{"x": np.ones((2, 4)), "y": np.array([0.5, 1.9])}')],
        r"integer class ids",
    ),  # noqa: E501
    ("--seed -1", lambda f: ["train", _model(f), "--seed", "-1"], r"seed"),
    ("cost --batch 10**21", lambda f: ["cost", _model(f), "--batch", str(10**21)], r"batch size"),
    ("compare at 21.8 TiB", lambda f: ["compare", _model(f), "--batch", str(10**12)], r"batch"),
    (
        "render --values at a huge batch",
        lambda f: ["render", _model(f), "--values", "--batch", str(10**12), "-o", str(f / "r.svg")],
        r"batch",
    ),  # noqa: E501
    (
        "JSON nested 100k deep",
        lambda f: ["show", _graph(f, _deep(100_000))],
        r"nested too deeply|not valid JSON",
    ),  # noqa: E501
    (
        "JSON attrs as a list",
        lambda f: ["show", _saved(f, lambda d: d["nodes"][-1].update(attrs=[1]))],
        r"g\.json: node \d+: attrs must be",
    ),  # noqa: E501
    (
        "JSON unknown op",
        lambda f: ["show", _saved(f, lambda d: d["nodes"][-1].update(op="os.system"))],
        r"g\.json: node \d+: unknown op",
    ),  # noqa: E501
    (
        "JSON error cites the file, once",
        lambda f: ["show", _saved(f, lambda d: d["nodes"][0].update(shape=[3, -2]))],
        r"^graphc: error: bad graph: \S*g\.json: node 0: (?!.*g\.json)",
    ),  # noqa: E501
    (
        "export -o the model",
        lambda f: ["export", _model(f), "-o", str(f / "m.py")],
        r"would overwrite the model file",
    ),  # noqa: E501
    (
        "train --plot p.txt",
        lambda f: ["train", _model(f), "--plot", str(f / "p.txt")],
        r"--plot writes",
    ),  # noqa: E501
    (
        "export --momentum 5",
        lambda f: [
            "export",
            _model(f),
            "--optimizer",
            "momentum",
            "--momentum",
            "5",
            "-o",
            str(f / "t.py"),
        ],
        r"momentum must be",
    ),  # noqa: E501
    (
        "train --beta1 2",
        lambda f: ["train", _model(f), "--optimizer", "adam", "--beta1", "2"],
        r"beta1 must be",
    ),  # noqa: E501
]


@pytest.mark.parametrize("case, argv, message", CLI, ids=[c[0] for c in CLI])
def test_cli_catalogue(case, argv, message, tmp_path, capsys):
    status = cli.main(argv(tmp_path))
    err = capsys.readouterr().err.strip()
    assert status == 1, err
    assert len(err.splitlines()) == 1 and "internal error" not in err
    assert __import__("re").search(message, err), err


# ---- the exported script ----------------------------------------------------------------


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    folder = tmp_path_factory.mktemp("script")
    model = _model(
        folder, '{"x": np.random.default_rng(0).normal(size=(40, 4)), "y": np.arange(40) % 3}'
    )  # noqa: E501
    assert (
        cli.main(["export", model, "-o", str(folder / "t.py"), "--data", str(folder / "d.npz")])
        == 0
    )  # noqa: E501
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 4)), np.arange(20) % 3
    files = {
        "ids.npz": {"x": x, "y": np.where(y == 2, 3, y)},
        "nan.npz": {"x": np.where(x > 1.5, np.nan, x), "y": y},
        "shape.npz": {"x": x[:, :3], "y": y},
        "column.npz": {"x": x, "y": y[:, None]},
        "lengths.npz": {"x": x, "y": y[:15]},
        "none.npz": {"x": x[:0], "y": y[:0]},
        "one.npz": {"x": x[:1], "y": y[:1]},
        "floats.npz": {"x": x, "y": y + 0.5},
        "huge.npz": {"x": x * 1e150, "y": y},  # logits past float64 after one step
    }
    for name, arrays in files.items():
        np.savez(folder / name, **arrays)
    (folder / "text.npz").write_text("not an archive")
    (folder / "empty.npz").write_bytes(b"")
    return folder


SCRIPT = [
    ("missing file", ["nothing.npz"], r"no such file"),
    ("empty file", ["empty.npz"], r"not an \.npz file"),
    ("text file", ["text.npz"], r"not an \.npz file"),
    ("class ids out of range", ["ids.npz"], r"class id 3, outside 0..2"),
    ("NaN in x", ["nan.npz"], r"NaN or infinity"),
    ("x of the wrong width", ["shape.npz"], r"'x' has shape \(20, 3\); the model takes \(N, 4\)"),
    ("y of shape (N, 1)", ["column.npz"], r"'y' has shape \(20, 1\)"),
    ("20 rows of x, 15 of y", ["lengths.npz"], r"differ in length"),
    ("no rows", ["none.npz"], r"no rows"),
    ("one row", ["one.npz"], r"holds out no row"),
    (
        "fractional labels",
        ["floats.npz"],
        r"'y' is not an array of int64: 0\.5 is not a whole number",
    ),
    ("--batch-size 0", ["d.npz", "--batch-size", "0"], r"--batch-size must be at least 1"),
    ("--val-split 2", ["d.npz", "--val-split", "2"], r"--val-split must be in"),
    ("--epochs -1", ["d.npz", "--epochs", "-1"], r"--epochs must be at least 1"),
    ("--lr nan", ["d.npz", "--lr", "nan"], r"--lr must be positive"),
    ("--save in a missing folder", ["d.npz", "--save", "no/p.npz"], r"--save no/p.npz: no folder"),
    ("--save over the data", ["d.npz", "--save", "d.npz"], r"would overwrite the data file"),
    ("a diverged run", ["huge.npz", "--lr", "1e100", "--save", "p.npz"], r"diverged.*not saved"),
]


@pytest.mark.parametrize("case, argv, message", SCRIPT, ids=[c[0] for c in SCRIPT])
def test_exported_script_catalogue(case, argv, message, script):
    done = subprocess.run(
        [sys.executable, "t.py", *argv, "--quiet"], cwd=script, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert __import__("re").search(message, done.stderr), done.stderr
    assert not (script / "p.npz").exists()


def test_the_catalogue_covers_the_issue():
    """The number of cases, for the report: every listed bad input has an entry."""
    assert len(API) + len(GOOD) + len(CLI) + len(SCRIPT) >= 60


@pytest.mark.parametrize("max_ops", [None, 10**9])
def test_symbolic_mode_refuses_a_real_network_at_once_whatever_the_cap(max_ops):
    """Batch 64, 784 -> 256 -> 10: the estimate refuses before SymPy builds anything (it
    used to spend 22 s on the first matmul, and never return with max_ops=1e9)."""
    x, y = gc.input("x", (None, 784)), gc.input("y", (None,), "int64")
    h = gc.tanh(x @ gc.param("W1", (784, 256)))
    loss = gc.softmax_cross_entropy(h @ gc.param("W2", (256, 10)), y)
    values = gc.init_params(loss) | {"x": np.zeros((64, 784)), "y": np.zeros(64, int)}
    cap = {} if max_ops is None else {"max_ops": max_ops}
    with pytest.raises(gc.GraphError, match=r"max_ops=[\d,]+"):
        gc.grad(loss, gc.params(loss), mode="symbolic", values=values, **cap)


def test_render_refuses_a_graph_too_large_to_lay_out(tmp_path, capsys):
    model = tmp_path / "big.py"
    model.write_text(
        "import graphc as gc\n\n\ndef model():\n    h = gc.param('x', (4,))\n"
        "    for _ in range(3000):\n        h = gc.tanh(h * 0.5 + 0.1)\n    return gc.sum(h)\n"
    )
    assert cli.main(["render", str(model), "-o", str(tmp_path / "big.svg")]) == 1
    err = capsys.readouterr().err
    assert "15,002 nodes to draw, too many for Graphviz" in err and "--collapse" in err
    assert not (tmp_path / "big.svg").exists()
    assert cli.main(["render", str(model), "-o", str(tmp_path / "big.dot")]) == 0


def test_a_scope_name_graphviz_cannot_draw_is_refused():
    with pytest.raises(gc.GraphError, match="names may not hold control characters"):
        gc.scope("block\\").__enter__()
    with pytest.raises(gc.GraphError, match="names may not hold control characters"):
        gc.scope("a\fb").__enter__()
