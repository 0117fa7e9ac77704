"""Every example model file builds, evaluates and differentiates; the loader reports bad
model files in one line."""

import glob
import os
import textwrap

import numpy as np
import pytest

import graphc as gc
from graphc.modelfile import ModelFileError, import_model_file, load_model

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.py")))


def test_the_lectures_networks_are_all_there():
    names = {os.path.basename(p)[:-3] for p in EXAMPLES}
    assert {
        "prelu_l2",
        "l1_vs_l2",
        "saturation",
        "regression_mse",
        "binary_bce",
        "softmax_multiclass",
        "batchnorm",
        "dropout",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: os.path.basename(p))
def test_example_builds_evaluates_and_differentiates(path):
    model = load_model(path)
    assert model.loss.shape == () and set(model.data) >= {"train", "validation"}
    params = gc.params(model.loss)
    grads = gc.grad(model.loss, params)
    for split, training in (("train", True), ("validation", False)):
        values = gc.init_params(model.outputs, seed=0) | model.data[split]
        loss, *gvals = gc.evaluate([model.loss, *grads], values, training=training)
        assert np.isfinite(loss) and 0 < loss < 10
        assert all(np.all(np.isfinite(g)) and g.shape == p.shape for g, p in zip(gvals, params))
        assert sum(float(np.abs(g).sum()) for g in gvals) > 0
    if len(model.outputs) > 1:  # the second output is the prediction (logits)
        assert model.outputs[1].shape[0] is None


def _first_layer_gradient(activation):
    module = import_model_file(
        EXAMPLES[[os.path.basename(p) for p in EXAMPLES].index("saturation.py")]
    )
    loss, _ = module.model(activation)
    W1 = next(p for p in gc.params(loss) if p.name == "W1")
    values = gc.init_params(loss) | module.data()["train"]
    return np.linalg.norm(gc.evaluate(gc.grad(loss, W1), values))


def test_sigmoid_saturates_where_tanh_does_not():
    assert _first_layer_gradient("sigmoid") * 20 < _first_layer_gradient("tanh")


def test_l1_and_l2_variants_share_the_fit_term():
    module = import_model_file(os.path.join(os.path.dirname(EXAMPLES[0]), "l1_vs_l2.py"))
    (l1, _), (l2, _) = module.model("l1", 0.0), module.model("l2", 0.0)
    values = gc.init_params(l1) | module.data()["train"]
    assert gc.evaluate(l1, values) == pytest.approx(gc.evaluate(l2, values))


def write(tmp_path, text, name="model.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


GOOD = textwrap.dedent("""
    import graphc as gc
    def model():
        x = gc.input("x", (None, 2))
        return gc.mean(x @ gc.param("w", (2, 1)))
""")


@pytest.mark.parametrize(
    "text, words",
    [
        ("x = 1\n", ["defines no model()"]),
        ("def model(:\n", ["model.py:1", "syntax error"]),
        ("import no_such_module_here\n", ["ModuleNotFoundError", "no_such_module_here"]),
        ("def model():\n    return 3\n", ["must return the loss node", "int"]),
        ("def model():\n    return None\n", ["must return the loss node", "NoneType"]),
        (
            "import graphc as gc\ndef model():\n    return gc.input('x', (None, 2))\n",
            ["scalar", "(None, 2)"],
        ),
        (
            "import graphc as gc\ndef model():\n"
            "    return gc.input('x', (3, 2)) @ gc.param('w', (4,))\n",
            ["model()", "model.py:3", "matmul"],
        ),
        (
            "import graphc as gc\ndef model():\n    with gc.scope('a\\\\b'):\n"
            "        return gc.sum(gc.input('x', (3,)))\n",
            ["model.py:3: model(): scope name", "backslash"],  # the with line, named once
        ),
        ("def model():\n    return 1 / 0\n", ["model.py:2", "ZeroDivisionError"]),
        ("import sys\nsys.exit(0)\n", ["model.py:2", "exit", "__main__"]),
        ("import sys\ndef model():\n    sys.exit(2)\n", ["model.py:3", "exit"]),
        (GOOD + "def data():\n    return [1, 2]\n", ["data() must return a dict"]),
        (GOOD + "def data():\n    return {'z': [1.0]}\n", ["no array for input 'x'"]),
        (GOOD + "def data():\n    return {'test': {'x': [[1.0, 2.0]]}}\n", ["no 'train' split"]),
        (GOOD + "def data():\n    return {'x': 'abc'}\n", ["not a numeric array"]),
        (
            GOOD + "def data():\n    return {'x': [[1.0, 2.0, 3.0]]}\n",
            ["has shape (1, 3)", "'x' is (N, 2)", "model.py:4"],
        ),
        (
            "import graphc as gc\ndef model():\n    y = gc.input('y', (None,), 'int64')\n"
            "    return gc.mean(gc.one_hot(y, 3) @ gc.param('w', (3,)))\n"
            "def data():\n    return {'y': [0.5, 1.0]}\n",
            ["float64 values", "integer class ids"],
        ),
    ],
)
def test_bad_model_files_give_one_line(tmp_path, text, words):
    with pytest.raises(ModelFileError) as info:
        load_model(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_file_and_bad_json(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.py")
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.json")
    with pytest.raises(ModelFileError, match="bad graph.*not valid JSON"):
        load_model(write(tmp_path, "{nope", "g.json"))
    with pytest.raises(ModelFileError, match="bad graph.*unknown op 'frobnicate'"):
        load_model(
            write(
                tmp_path,
                '{"format": "graphc-graph", "version": 1, "outputs": [0],'
                ' "nodes": [{"op": "frobnicate"}]}',
                "g.json",
            )
        )
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path)
    with pytest.raises(ModelFileError, match="not a Python file"):
        load_model(write(tmp_path, "hello", "model.txt"))


def test_saved_graph_round_trips_through_the_loader(tmp_path):
    source = load_model(write(tmp_path, GOOD))
    gc.save(source.outputs, tmp_path / "g.json")
    loaded = load_model(tmp_path / "g.json")
    values = {"x": np.ones((3, 2)), "w": np.array([[1.0], [2.0]])}
    assert gc.evaluate(loaded.loss, values) == gc.evaluate(source.loss, values) == 3.0
    assert loaded.data == {}


def test_single_split_data_is_the_training_set(tmp_path):
    model = load_model(write(tmp_path, GOOD + "def data():\n    return {'x': [[1.0, 2.0]]}\n"))
    assert list(model.data) == ["train"] and model.data["train"]["x"].shape == (1, 2)


def test_only_the_proximal_l1_step_makes_weights_exactly_zero():
    module = import_model_file(os.path.join(os.path.dirname(EXAMPLES[0]), "l1_vs_l2.py"))
    results = module.compare(epochs=3)
    assert results["L2"]["exact zeros"] == 0
    assert results["L1 (subgradient step)"]["exact zeros"] == 0  # it jumps over zero
    assert results["L1 (proximal step)"]["exact zeros"] > 20
    assert results["L1 (subgradient step)"]["below 1e-3"] > 10 * results["L2"]["below 1e-3"]
    for r in results.values():
        assert r["validation accuracy"] > 0.8
    w = np.array([-0.5, -0.01, 0.0, 0.02, 0.3])
    shrunk = module.soft_threshold(w, 0.02)
    np.testing.assert_allclose(shrunk, [-0.48, 0, 0, 0, 0.28], rtol=1e-15)
    assert np.all(shrunk[1:4] == 0)  # exactly: within the threshold a weight lands on zero
