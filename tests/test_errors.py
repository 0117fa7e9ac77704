"""Bad input gets a clear GraphError that names what was wrong and where."""

import json
import sys

import numpy as np
import pytest

import graphc as gc


def here():
    return f"{__file__}:{sys._getframe(1).f_lineno}"


def test_shape_mismatch_names_op_shapes_and_the_users_line():
    x, W = gc.input("x", (None, 4)), gc.param("W", (5, 2))
    with pytest.raises(gc.ShapeError) as info:
        where = here()  # the next line builds the node
        x @ W
    message = str(info.value)
    path, line = where.rsplit(":", 1)
    assert f"{path}:{int(line) + 1}:" in message
    assert "matmul" in message and "(None, 4)" in message and "(5, 2)" in message


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: gc.input("a", (2, 3)) + gc.input("b", (4,)), ["add", "(2, 3)", "(4,)"]),
        (lambda: gc.sum(gc.input("a", (2,)), axis=3), ["sum", "axis 3"]),
        (lambda: gc.reshape(gc.input("a", (2, 3)), (4, 2)), ["reshape", "(2, 3)", "(4, 2)"]),
        (lambda: gc.mse(gc.input("p", (None, 1)), gc.input("t", (None,))), ["mse", "(None, 1)"]),
        (
            lambda: gc.softmax_cross_entropy(
                gc.input("z", (None, 3)), gc.input("y", (None, 2), "int64")
            ),
            ["labels", "(None, 2)"],
        ),
        (lambda: gc.where(gc.input("c", (2,)), 1.0, 0.0), ["where", "boolean"]),
        (lambda: gc.input("x", (2, -1)), ["shape"]),
        (lambda: gc.input("x", (2,), dtype="complex64"), ["dtype", "complex64"]),
        (lambda: gc.param("w", (2,), init="glorious"), ["initializer", "glorious"]),
        (lambda: gc.param("w", (2,), init=np.ones(3)), ["(3,)", "(2,)"]),
        (lambda: gc.dropout(gc.input("x", (2,)), 1.5), ["rate", "1.5"]),
        (lambda: gc.input("x", (3,))[[0, 2]], ["index"]),  # fancy indexing: not supported
        (lambda: gc.input("x", (3,)) + "a", ["str"]),
    ],
)
def test_bad_construction_is_a_graph_error(build, words):
    with pytest.raises(gc.GraphError) as info:
        build()
    for word in words:
        assert word in str(info.value)
    assert __file__ in str(info.value)


def test_missing_and_misshaped_values_name_the_input():
    x = gc.input("pixels", (None, 4))
    y = gc.relu(x @ gc.param("W", (4, 2)))
    with pytest.raises(gc.MissingValueError, match="'pixels'"):
        gc.evaluate(y, {"W": np.ones((4, 2))})
    with pytest.raises(gc.ShapeError, match=r"'pixels' has shape \(3, 5\), expected \(None, 4\)"):
        gc.evaluate(y, {"W": np.ones((4, 2)), "pixels": np.ones((3, 5))})
    with pytest.raises(gc.MissingValueError, match="init_params"):
        gc.evaluate(y, {"pixels": np.ones((3, 4))})


def test_inconsistent_batch_sizes_are_refused_before_any_op_runs():
    a, b = gc.input("a", (None, 2)), gc.input("b", (None, 2))
    with pytest.raises(gc.ShapeError, match="same batch size, but a has 3, b has 4 rows"):
        gc.evaluate(a + b, {"a": np.ones((3, 2)), "b": np.ones((4, 2))})


def test_duplicate_param_names_are_refused_with_both_sites():
    w1, w2 = gc.param("W", (2,)), gc.param("W", (2,))
    with pytest.raises(gc.DuplicateNameError, match="'W'.*test_errors.py.*test_errors.py"):
        gc.init_params(w1 + w2)


def test_nodes_have_no_truth_value_and_are_not_iterable():
    x = gc.input("x", (2,))
    with pytest.raises(gc.GraphError):
        if x > 0:
            pass
    with pytest.raises(TypeError):
        list(x)


def write(tmp_path, data):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def saved(tmp_path):
    x = gc.input("x", (None, 2))
    gc.save(gc.tanh(x) * 2.0, tmp_path / "ok.json")
    return json.loads((tmp_path / "ok.json").read_text())


@pytest.mark.parametrize(
    "corrupt, words",
    [
        (lambda d: d["nodes"][-1].update(op="rm_rf"), ["unknown op", "rm_rf"]),
        (lambda d: d["nodes"][0].update(dtype="complex64"), ["dtype", "complex64"]),
        (lambda d: d["nodes"][1].update(inputs=[3]), ["not an earlier node"]),
        (lambda d: d["nodes"][1].update(inputs=[99]), ["refers to no node"]),
        (lambda d: d.update(outputs=[42]), ["outputs"]),
        (lambda d: d.update(format="pickle"), ["not a graphc graph"]),
        (lambda d: d["nodes"][0].pop("shape"), ["malformed"]),
        (lambda d: d["nodes"][0].update(shape=[3, "a"]), ["node 0", "shape"]),
    ],
)
def test_bad_graph_files_are_load_errors(tmp_path, corrupt, words):
    data = saved(tmp_path)
    corrupt(data)
    with pytest.raises(gc.LoadError) as info:
        gc.load(write(tmp_path, data))
    for word in words:
        assert word in str(info.value)


def test_not_json_and_missing_files(tmp_path):
    with pytest.raises(gc.LoadError, match="not valid JSON"):
        gc.load(write(tmp_path, "import os; os.system('boom')"))
    with pytest.raises(gc.LoadError, match="no such file"):
        gc.load(tmp_path / "nope.json")
