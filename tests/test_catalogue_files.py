"""The catalogue of issue 21's bad inputs, part four: what reaches graphc from files and
from the exported modules after the earlier parts (a params file for feature-maps and
ONNX export, masked arrays into lowered functions, hand-built batches, validation data,
sizes at the trainer's batch size). Each case asserts its exact words, and that nothing
was written but what was asked for."""

import os

import numpy as np
import pytest

import graphc as gc
from graphc import cli
from graphc.trainer import compile_trainer, import_trainer
from graphc.trainer import train as run_training

x = gc.input("x", (None, 4))
y = gc.input("y", (None,), "int64")

CNN = """
import numpy as np
import graphc as gc


def model():
    x = gc.input("x", (None, 1, 6, 6))
    y = gc.input("y", (None,), "int64")
    h = gc.relu(gc.conv2d(x, gc.param("K", (2, 1, 3, 3))))
    logits = gc.flatten(h) @ gc.param("W", (32, 3))
    return gc.softmax_cross_entropy(logits, y), logits


def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(9, 1, 6, 6)), "y": np.arange(9) % 3}
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder with the model file and the params files the cases read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cnn.py").write_text(CNN)
    good = {"K": np.ones((2, 1, 3, 3)), "W": np.ones((32, 3))}
    np.savez(tmp_path / "wrong.npz", **(good | {"K": np.ones((2, 1, 5, 5))}))
    np.savez(tmp_path / "nan.npz", **(good | {"K": np.full((2, 1, 3, 3), np.nan)}))
    np.savez(tmp_path / "other.npz", Q=np.ones(3))
    np.save(tmp_path / "array.npy", np.ones(3))
    (tmp_path / "text.npz").write_text("not an archive")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "folder.npz").mkdir()
    return tmp_path


MAPS = [
    ("text.npz", "text.npz: not an .npz file of arrays (np.savez writes one)"),
    ("empty.npz", "empty.npz: not an .npz file of arrays (np.savez writes one)"),
    ("array.npy", "array.npy: not an .npz file of arrays (np.savez writes one)"),
    ("folder.npz", "folder.npz: --params names a folder, not an .npz file"),
    ("none.npz", "none.npz: no such file"),
    ("other.npz", "other.npz: no array for the param 'K' (it holds Q)"),
    ("nan.npz", "nan.npz: 'K' holds NaN, infinity or non-numbers"),
    ("wrong.npz", "wrong.npz: 'K' has shape (2, 1, 5, 5); the model's param is (2, 1, 3, 3)"),
]


@pytest.mark.parametrize("command", ["feature-maps", "export"])
@pytest.mark.parametrize("params, words", MAPS, ids=[c[0] for c in MAPS])
def test_a_bad_params_file_is_one_error_and_writes_nothing(command, params, words, folder, capsys):
    before = sorted(os.listdir(folder))
    out = "maps.png" if command == "feature-maps" else "m.onnx"
    assert cli.main([command, "cnn.py", "--params", params, "-o", out]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphc: error: ") and words in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(folder)) == before


def test_feature_maps_checks_the_image_against_the_data_before_work(folder, capsys):
    assert cli.main(["feature-maps", "cnn.py", "--image", "1000000", "-o", "m.png"]) == 1
    err = capsys.readouterr().err
    assert "--image 1000000: the training data has 9 images (0 to 8)" in err
    assert not (folder / "m.png").exists()
    assert cli.main(["feature-maps", "cnn.py", "--image", "8", "-o", "m.png"]) == 0
    assert (folder / "m.png").stat().st_size > 1000


def test_a_truncated_onnx_file_gets_no_hint_about_other_outputs(tmp_path, capsys):
    path = tmp_path / "t.onnx"
    gc.to_onnx(gc.tanh(x), path)
    path.write_bytes(path.read_bytes()[:40])
    assert cli.main(["show", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "t.onnx: not an ONNX model (the file is truncated or corrupted, or another format)"
    )


# ---- lowered functions: a masked array is refused in every target ------------------------


@pytest.mark.parametrize("target", ["fast", "readable", "jax"])
def test_a_masked_array_into_a_lowered_function(target):
    if target == "jax":
        pytest.importorskip("jax")
    f = gc.lower(gc.mean(x * 2.0), ["x"], target=target)
    masked = np.ma.masked_array(np.ones((3, 4)), mask=np.eye(3, 4))
    with pytest.raises(gc.ShapeError, match=r"the argument 'x' is a masked array; NumPy would"):
        f(masked)
    assert float(f(masked.filled(0.0))) == pytest.approx(2.0 * 9 / 12)


# ---- the exported modules and the trainer ------------------------------------------------


def _bn_loss():
    h = x @ gc.param("W", (4, 3))
    h = gc.batch_norm(h, gc.param("g", (3,), init=1.0), gc.param("b", (3,)))
    return gc.softmax_cross_entropy(h, y)


def _data(rows):
    return {"x": np.random.default_rng(0).normal(size=(rows, 4)), "y": np.arange(rows) % 3}


@pytest.fixture(
    scope="module",
    params=["numpy", "readable", "jax"],
)
def module(request, tmp_path_factory):
    if request.param == "jax":
        pytest.importorskip("jax")
    path = tmp_path_factory.mktemp("bn") / "m.py"
    backend = "jax" if request.param == "jax" else "numpy"
    style = "readable" if request.param == "readable" else "fast"
    gc.export(_bn_loss(), path, backend=backend, style=style)
    return import_trainer(path)


def test_loss_and_grads_refuses_one_row_of_batch_norm(module):
    """One row would give W and gamma gradients of exactly 0, without a word."""
    params = module["init_params"](0)
    with pytest.raises(
        ValueError, match=r"loss_and_grads: batch norm in training mode needs at least 2 rows"
    ):
        module["loss_and_grads"](params, _data(1))


def test_fit_checks_the_validation_data_before_the_first_epoch(tmp_path):
    path = tmp_path / "m.py"
    gc.export(gc.softmax_cross_entropy(x @ gc.param("W", (4, 3)), y), path)
    module = import_trainer(path)
    params, state = module["init_params"](0), module["init_state"](0)
    before = params["W"].copy()
    bad = {"x": np.ones((3, 4)), "y": np.array([7, 0, 1])}
    with pytest.raises(ValueError, match=r"'y' holds the class id 7, outside 0\.\.2"):
        module["fit"](params, state, _data(8), epochs=1, batch_size=4, validation=bad)
    np.testing.assert_array_equal(params["W"], before)  # no epoch ran


def test_the_trainer_estimates_sizes_at_its_batch_size():
    trainer = compile_trainer(gc.mean(x @ gc.param("P", (4, 200_000))))
    data = {"train": {"x": np.ones((200_000, 4))}}
    with pytest.raises(
        MemoryError,
        match=r"the trainer: matmul \(made at .*test_catalogue_files\.py:\d+\) would need a "
        r"\(200000, 200000\) float64 array of 298\.0 GiB, above the limit",
    ):
        run_training(trainer, data, epochs=1, batch_size=200_000)


# ---- impossible convolutions in the files graphc reads ------------------------------------


def _conv_model(x_shape, w_shape, **attrs):
    """An ONNX model of one Conv node named 'c' with all-ones weights."""
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Conv", ["x", "W"], ["y"], name="c", **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["a"] * len(x_shape))],
        [numpy_helper.from_array(np.ones(w_shape), "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


ONNX_CONV = [
    (["N", 1, 4, 4], (2, 1, 7, 7), {}, r"the kernel 7×7 \(dilation 1×1\) spans 7, more than"),
    (["N", 3, 8, 8], (2, 1, 3, 3), {}, r"the input has 3 channels, but weights \(2, 1, 3, 3\)"),
    (["N", 3, 8, 8], (2, 1, 3, 3), {"group": 2}, r"groups=2 must divide the 3 input channels"),
    (["N", 1, 8, 8], (2, 1, 3, 3), {"strides": [0, 0]}, r"stride must be a positive int"),
    (["N", 1, 8, 8], (2, 1, 3, 3), {"pads": [-1, 0, 0, 0]}, r"padding must be a non-negative"),
    (["N", 1, 8, 8, 8], (2, 1, 3, 3, 3), {}, r"Conv over 3 spatial axes is not supported"),
]


@pytest.mark.parametrize("x_shape, w_shape, attrs, words", ONNX_CONV)
def test_an_impossible_onnx_convolution_names_its_node(x_shape, w_shape, attrs, words):
    pytest.importorskip("onnx")
    with pytest.raises(gc.GraphError, match=r"<onnx model>: node 0 \(Conv 'c'\): .*" + words):
        gc.from_onnx(_conv_model(x_shape, w_shape, **attrs))


def test_a_json_convolution_whose_attributes_contradict_its_weights(tmp_path):
    im = gc.input("im", (None, 3, 8, 8))
    data = gc.serialize.to_json(gc.sum(gc.conv2d(im, gc.param("Wc", (4, 3, 3, 3)))))
    conv = next(n for n in data["nodes"] if n["op"] == "conv2d")
    path = tmp_path / "g.json"
    for attrs, words in [
        ({"kernel": [99, 99]}, r"kernel \(99, 99\) does not match the weights \(4, 3, 3, 3\)"),
        ({"stride": "a"}, r"stride must be a positive int or 2 of them, got 'a'"),
        ({"groups": 5}, r"groups=5 must divide the 3 input channels and the 4 output"),
    ]:
        saved = dict(conv["attrs"])
        conv["attrs"].update(attrs)
        path.write_text(__import__("json").dumps(data))
        with pytest.raises(gc.LoadError, match=r"g\.json: node 2: conv2d: " + words):
            gc.load(path)
        conv["attrs"] = saved
