"""The catalogue of issue 21's bad inputs, part one: wrong-typed arguments, lossy casts and
the feed checks that gc.evaluate, gc.lower's functions and the trainer share (one
definition each, in graphc/feeds.py). Each case asserts the error's class and its words,
or, where the input is legitimate, the right result."""

import json
import re

import numpy as np
import pytest

import graphc as gc
import visual
from graphc import cli
from graphc.checks import check_minibatches
from graphc.trainer import compile_trainer
from graphc.trainer import train as run_training

x = gc.input("x", (None, 4))
y = gc.input("y", (None,), "int64")
m = gc.input("m", (2, 3))


def _loss(batch_norm=False):
    h = x @ gc.param("W", (4, 3))
    if batch_norm:
        h = gc.batch_norm(h, gc.param("g", (3,), init=1.0), gc.param("b", (3,)))
    return gc.softmax_cross_entropy(h, y)


def _values(loss, rows=5, **given):
    return gc.init_params(loss) | {"x": np.ones((rows, 4)), "y": np.arange(rows) % 3} | given


ARGUMENTS = [
    # (case, build, error class, the words of the one-line error)
    ("sum axis=True", lambda: gc.sum(m, axis=True), gc.ShapeError, r"axis must be an int.*True"),
    ("sum axis=1.5", lambda: gc.sum(m, axis=1.5), gc.ShapeError, r"axis must be an int.*1\.5"),
    (
        "x[..., True]",
        lambda: m[..., True],
        gc.GraphError,
        r"nodes are indexed by ints, slices and \.\.\., got True in",
    ),
    (
        "leaky_relu slope nan",
        lambda: gc.leaky_relu(m, slope=float("nan")),
        gc.GraphError,
        r"slope must be a finite number, got nan",
    ),
    (
        "leaky_relu slope 'a'",
        lambda: gc.leaky_relu(m, slope="a"),
        gc.GraphError,
        r"slope must be a finite number, got 'a'",
    ),
    (
        "dropout seed 'a'",
        lambda: gc.dropout(x, 0.5, seed="a"),
        gc.GraphError,
        r"dropout: seed must be a non-negative int, got 'a'",
    ),
    (
        "dropout rate 'a'",
        lambda: gc.dropout(x, "a"),
        gc.GraphError,
        r"dropout rate must be a finite number, got 'a'",
    ),
    (
        "init_params seed 'a'",
        lambda: gc.init_params(_loss(), seed="a"),
        gc.GraphError,
        r"gc.init_params: seed must be a non-negative int, got 'a'",
    ),
    (
        "init=[object(), object()]",
        lambda: gc.param("q", (2,), init=[object(), object()]),
        gc.GraphError,
        r"param 'q': init must be a number, an array of numbers or an initializer name",
    ),
    (
        "grad max_ops='x'",
        lambda: gc.grad(_loss(), gc.params(_loss()), mode="symbolic", max_ops="x"),
        gc.GraphError,
        r"gc.grad: max_ops must be a positive int, got 'x'",
    ),
    (
        "visual.render(3)",
        lambda: visual.render(3),
        gc.GraphError,
        r"expected a graph node, got int: 3",
    ),
    (
        "len(node)",
        lambda: len(x),
        TypeError,
        r"a graph node has no length; its shape is node.shape = \(None, 4\)",
    ),
    (
        "evaluate training='no'",
        lambda: gc.evaluate(_loss(), _values(_loss()), training="no"),
        gc.GraphError,
        r"gc.evaluate: training must be True .* or False .*, got 'no'",
    ),
    (
        "lower training='no'",
        lambda: gc.lower(_loss(), training="no"),
        gc.GraphError,
        r"gc.lower: training must be True .* or False .*, got 'no'",
    ),
    (
        "set_limits array_bytes=-1",
        lambda: gc.set_limits(array_bytes=-1),
        gc.GraphError,
        r"array_bytes must be a positive number, got -1",
    ),
]


@pytest.mark.parametrize("case, build, kind, words", ARGUMENTS, ids=[c[0] for c in ARGUMENTS])
def test_wrong_typed_arguments_are_one_clear_error(case, build, kind, words):
    with pytest.raises(kind, match=words) as caught:
        build()
    assert isinstance(caught.value, gc.GraphError)
    assert "\n" not in str(caught.value)


def test_len_of_a_node_still_lets_numpy_treat_it_as_one_object():
    """len() raises a TypeError (a GraphError too), which is how NumPy probes sequences."""
    with pytest.raises(gc.GraphError, match=r"use gc\.exp"):
        np.exp(m)


def test_save_of_a_number_writes_nothing(tmp_path):
    with pytest.raises(gc.GraphError, match=r"expected a graph node, got int: 3"):
        gc.save(3, tmp_path / "g.json")
    assert list(tmp_path.iterdir()) == []


def test_load_of_a_folder(tmp_path):
    with pytest.raises(gc.LoadError, match=r"is a folder, not a saved graph \(\.json\)"):
        gc.load(tmp_path)


def test_a_json_attribute_the_op_does_not_have_is_refused(tmp_path):
    data = gc.serialize.to_json(gc.sum(gc.tanh(x), axis=1))
    data["nodes"][-1]["attrs"]["foo"] = 1
    (tmp_path / "g.json").write_text(json.dumps(data))
    with pytest.raises(
        gc.LoadError,
        match=r"g\.json: node 2: sum has no attribute 'foo' \(its attributes: axis, keepdims\)",
    ):
        gc.load(tmp_path / "g.json")
    data["nodes"][1]["attrs"]["foo"] = 1  # tanh has none: it used to fail only when run
    del data["nodes"][-1]["attrs"]["foo"]
    (tmp_path / "g.json").write_text(json.dumps(data))
    with pytest.raises(
        gc.LoadError, match=r"node 1: tanh has no attribute 'foo' \(its attributes: none\)"
    ):
        gc.load(tmp_path / "g.json")


# ---- the same feed checks through gc.evaluate and gc.lower's functions ------------------


def _through_evaluate(outputs, values, training=False):
    return gc.evaluate(outputs, values, training=training)


def _through_lower(outputs, values, training=False):
    return gc.lower(outputs, training=training).run(values)


ENTRIES = [_through_evaluate, _through_lower]
BIG = gc.param("P", (4, 200_000))
F32 = gc.param("p32", (2,), dtype="float32")
FEEDS = [
    (
        "empty batch",
        lambda: (_loss(), _values(_loss(), rows=0)),
        gc.ShapeError,
        r"the batch is empty \(x, y have 0 rows\)",
    ),
    (
        "1-row y, 5-row x",
        lambda: (_loss(), _values(_loss(), y=np.array([1]))),
        gc.ShapeError,
        r"same batch size, but x has 5, y has 1 rows",
    ),
    (
        "class id 7 of 3",
        lambda: (_loss(), _values(_loss(), y=np.array([7, 1, 2, 0, 0]))),
        gc.ShapeError,
        r"class id 7, outside 0..2",
    ),
    (
        "1e300 into float32",
        lambda: (F32 * 2.0, {"p32": np.array([1e300, 1.0])}),
        gc.ShapeError,
        r"not an array of float32: .*1e\+300\)? is beyond the largest float32 \(3\.4e\+38\) "
        r"and would become inf",
    ),
    (
        "2**40 into int32",
        lambda: (gc.one_hot(gc.input("c", (3,), "int32"), 4), {"c": np.array([0, 2**40, 1])}),
        gc.ShapeError,
        r"1099511627776\)? is outside the range of int32",
    ),
    (
        "masked array",
        lambda: (
            _loss(),
            _values(_loss(), x=np.ma.masked_array(np.ones((5, 4)), mask=np.eye(5, 4))),
        ),
        gc.ShapeError,
        r"'x' is a masked array; NumPy would drop its mask",
    ),
    (
        "a 298 GiB matmul",
        lambda: (x @ BIG, {"x": np.ones((200_000, 4)), "P": np.zeros((4, 200_000))}),
        MemoryError,
        r"matmul .* would need a \(200000, 200000\) float64 array of 298\.0 GiB, above the "
        r"limit of .* per array; .*gc\.set_limits\(array_bytes=\.\.\.\) or GRAPHC_MAX_ARRAY_BYTES",
    ),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=["evaluate", "lower"])
@pytest.mark.parametrize("case, build, kind, words", FEEDS, ids=[c[0] for c in FEEDS])
def test_every_entry_point_makes_the_same_feed_check(entry, case, build, kind, words):
    outputs, values = build()
    with pytest.raises(kind, match=words) as caught:
        entry(outputs, values)
    assert isinstance(caught.value, gc.GraphError)


@pytest.mark.parametrize("entry", ENTRIES, ids=["evaluate", "lower"])
def test_one_row_of_batch_norm_in_training_is_refused_everywhere(entry):
    loss = _loss(batch_norm=True)
    graph = [loss, *gc.grad(loss, gc.params(loss))]
    with pytest.raises(gc.ShapeError, match=r"batch norm in training mode needs at least 2 rows"):
        entry(graph, _values(loss, rows=1), training=True)
    assert np.isfinite(entry(graph, _values(loss, rows=1), training=False)[0])  # inference


@pytest.mark.parametrize("entry", ENTRIES, ids=["evaluate", "lower"])
def test_legitimate_feeds_give_the_numbers_numpy_gives(entry):
    """float32 values that fit, ints that are whole, a batch of one without batch norm."""
    value = np.array([3e38, -1.5])
    (got,) = entry([F32 * 1.0], {"p32": value})
    np.testing.assert_array_equal(got, value.astype(np.float32))
    loss = _loss()
    values = _values(loss, rows=1, y=np.array([2.0]))  # a whole float is a class id
    expected = -np.log(
        np.exp(values["x"] @ values["W"])[0, 2] / np.exp(values["x"] @ values["W"]).sum()
    )
    np.testing.assert_allclose(entry([loss], values)[0], expected, rtol=1e-12)


# ---- the trainer: the last minibatch of an epoch --------------------------------------


def _bn_data(rows):
    rng = np.random.default_rng(0)
    return {"train": {"x": rng.normal(size=(rows, 4)), "y": np.arange(rows) % 3}}


def test_the_trainer_refuses_a_one_row_last_minibatch_under_batch_norm():
    trainer = compile_trainer(_loss(batch_norm=True))
    with pytest.raises(
        gc.ShapeError,
        match=r"33 rows in minibatches of 32 leave a last minibatch of 1 row.*e\.g\. 31",
    ):
        run_training(trainer, _bn_data(33), epochs=1, batch_size=32)
    result = run_training(trainer, _bn_data(33), epochs=2, batch_size=31)
    assert result.history.epochs == 2 and np.isfinite(result.final("loss"))
    plain = compile_trainer(_loss())  # without batch statistics one row is a fine batch
    assert run_training(plain, _bn_data(33), epochs=1, batch_size=32).history.epochs == 1


NEED = (2, "batch norm in training mode needs at least 2 rows")


@pytest.mark.parametrize("rows, size", [(2, 1), (65, 32), (3, 2), (7, 3), (33, 16)])
def test_check_minibatches_names_a_batch_size_that_works(rows, size):
    with pytest.raises(gc.ShapeError, match=r"1 row; batch norm .*e\.g\. (\d+)") as caught:
        check_minibatches(rows, size, NEED, "data")
    suggested = int(re.search(r"e\.g\. (\d+)", str(caught.value)).group(1))
    assert suggested > 1 and rows % suggested != 1
    check_minibatches(rows, suggested, NEED, "data")  # the suggestion passes
    check_minibatches(rows, size, None, "data")  # a model without batch norm takes any
    with pytest.raises(gc.ShapeError, match=r"data: batch norm in training mode needs at least 2"):
        check_minibatches(1, 32, NEED, "data")


@pytest.mark.parametrize(
    "epochs, batch, lr, words",
    [
        (0, 32, None, r"the epochs must be a positive int, got 0"),
        (1, 0, None, r"the batch size must be a positive int, got 0"),
        (1, True, None, r"the batch size must be a positive int, got True"),
        (1, 32, float("nan"), r"the learning rate must be positive and finite, got nan"),
    ],
)
def test_the_trainer_checks_its_run(epochs, batch, lr, words):
    with pytest.raises(gc.GraphError, match=words):
        run_training(compile_trainer(_loss()), _bn_data(8), epochs, batch, lr=lr)


# ---- the command line: what a model file may do to graphc --------------------------------

LOSS = "    return gc.sum(gc.tanh(gc.param('w', (3,))))\n"


def _model_file(folder, body):
    path = folder / "m.py"
    path.write_text("import os\nimport graphc as gc\n\n\ndef model():\n" + body)
    return str(path)


def test_a_model_calling_os_exit_is_an_error_not_a_silent_exit(tmp_path, capsys):
    model = _model_file(tmp_path, "    os._exit(0)\n")
    assert cli.main(["show", model]) == 1
    err = capsys.readouterr().err
    assert "m.py:6: the file calls os._exit(0), which would end graphc at once" in err
    import os

    assert os._exit.__module__ == "posix"  # restored after the model ran


def test_a_model_changing_folder_does_not_move_a_relative_output(tmp_path, monkeypatch, capsys):
    (tmp_path / "elsewhere").mkdir()
    model = _model_file(tmp_path, "    os.chdir('elsewhere')\n" + LOSS)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["render", model, "-o", "out.dot"]) == 0
    assert (tmp_path / "out.dot").is_file() and not (tmp_path / "elsewhere" / "out.dot").exists()


def test_a_model_returning_an_empty_tuple(tmp_path, capsys):
    assert cli.main(["show", _model_file(tmp_path, "    return ()\n")]) == 1
    assert (
        "model() must return the loss node (a graphc node), or the loss first and then "
        "other nodes (predictions), got an empty tuple" in capsys.readouterr().err
    )


def test_history_naming_a_folder_is_refused_before_training(tmp_path, capsys):
    model = tmp_path / "m.py"
    model.write_text(
        "import numpy as np\nimport graphc as gc\n\n\ndef model():\n"
        "    x, y = gc.input('x', (None, 4)), gc.input('y', (None,), 'int64')\n"
        "    return gc.softmax_cross_entropy(x @ gc.param('W', (4, 3)), y)\n\n\n"
        "def data():\n    return {'x': np.ones((6, 4)), 'y': np.arange(6) % 3}\n"
    )
    (tmp_path / "h").mkdir()
    assert cli.main(["train", str(model), "--history", str(tmp_path / "h"), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "--history names a folder; give a file name" in err and "training" not in out


def test_data_too_large_for_a_float32_input_is_refused_before_training(tmp_path, capsys):
    model = tmp_path / "m.py"
    model.write_text(
        "import numpy as np\nimport graphc as gc\n\n\ndef model():\n"
        "    x = gc.input('x', (None, 2), 'float32')\n"
        "    return gc.mean(x @ gc.param('w', (2, 1), dtype='float32'))\n\n\n"
        "def data():\n    return {'x': np.array([[1e300, 1.0], [2.0, 3.0]])}\n"
    )
    assert cli.main(["train", str(model), "--quiet", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "data()['train']['x'] is not an array of float32" in err and "would become inf" in err


@pytest.mark.parametrize(
    "run",
    [
        lambda loss, W, v: gc.numeric_grad(loss, W, v),
        lambda loss, W, v: gc.check_grad(loss, W, v),
        lambda loss, W, v: gc.mc_predict(loss, v, samples=2),
        lambda loss, W, v: gc.compare(loss, W, v, methods=["numeric"]),
    ],
    ids=["numeric_grad", "check_grad", "mc_predict", "compare"],
)
def test_the_other_evaluators_make_gc_evaluates_checks(run):
    loss = _loss()
    W = gc.params(loss)[0]
    values = _values(loss, y=np.array([7, 0, 1, 2, 0]))
    with pytest.raises(gc.ShapeError, match=r"the input 'y' holds the class id 7, outside 0..2"):
        run(loss, W, values)
