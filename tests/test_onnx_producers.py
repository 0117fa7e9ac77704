"""Models written by other tools (fixtures made by tests/fixtures/make_onnx_producers.py
with scikit-learn, skl2onnx and PyTorch; no torch here) import into graphc, keep their
producer's predictions, pass the gradient check, and train further with graphc's exported
NumPy script."""

import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("onnx")

import graphc as gc  # noqa: E402
from graphc.onnx import from_onnx, to_onnx  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def data():
    return dict(np.load(os.path.join(FIXTURES, "onnx_producers.npz")))


def _load_module(path):
    spec = importlib.util.spec_from_file_location(f"onnx_trained_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_and_train(loss, predictions, data, tmp_path, max_elements=None, epochs=20):
    """The gradient check passes and the exported script lowers the loss (`data` holds the
    arrays x and y)."""
    values = gc.init_params(loss) | {"x": data["x"], "y": data["y"]}
    report = gc.check_grad(loss, gc.params(loss), values, max_elements=max_elements)
    assert report.ok, report
    module = _load_module(gc.export(loss, tmp_path / "train.py", "adam", lr=0.01, epochs=epochs))
    params, state = module.init_params(0), module.init_state(0)
    before = module.evaluate(params, state, {"x": data["x"], "y": data["y"]})[0]
    for name, value in gc.init_params(loss).items():  # the producer's weights, not fresh draws
        np.testing.assert_array_equal(params[name], value)
    history = module.fit(params, state, {"x": data["x"], "y": data["y"]}, verbose=False)
    after = module.evaluate(params, state, {"x": data["x"], "y": data["y"]})[0]
    assert after < before and history["loss"][-1] < history["loss"][0]
    return params


def test_sklearn_mlp_keeps_its_probabilities_and_trains_further(data, tmp_path):
    path = os.path.join(FIXTURES, "sklearn_mlp.onnx")
    # the label output needs ArgMax and ai.onnx.ml's ArrayFeatureExtractor: left out
    (proba,) = from_onnx(path, outputs="probabilities")
    (x,) = gc.inputs(proba)
    assert x.name == "X" and x.shape == (None, 4)
    values = gc.init_params(proba) | {"X": data["x"]}
    got = gc.evaluate(proba, values)
    np.testing.assert_allclose(got, data["sklearn_proba"], rtol=1e-5, atol=1e-6)
    # train it: cross-entropy on the log of its probabilities, under graphc's names
    probs = gc.substitute(proba, {x: gc.input("x", (None, 4), "float32")})[0]
    y = gc.input("y", (None,), "int64")
    loss = -gc.mean(gc.sum(gc.one_hot(y, 3, "float32") * gc.log(probs), axis=-1))
    _check_and_train(loss, probs, data, tmp_path)
    with pytest.raises(gc.GraphError, match=r"node 8 \(ArgMax 'ArgMax'\): unknown op 'ArgMax'"):
        from_onnx(path)


def test_torch_mlp_keeps_its_logits_trains_and_round_trips(data, tmp_path):
    (logits,) = from_onnx(os.path.join(FIXTURES, "torch_mlp.onnx"))
    assert gc.inputs(logits)[0].shape == (None, 4)  # torch's dynamic batch stays symbolic
    # each Gemm is a composite in a scope of its own: two boxes in a picture, not one
    scopes = {n.scope for n in gc.topological_order(logits) if n.scope}
    assert scopes == {"0.Gemm/gemm", "2.Gemm/gemm"}
    values = gc.init_params(logits) | {"x": data["x"]}
    np.testing.assert_allclose(
        gc.evaluate(logits, values), data["torch_logits"], rtol=1e-5, atol=1e-6
    )
    loss = gc.softmax_cross_entropy(logits, gc.input("y", (None,), "int64"))
    trained = _check_and_train(loss, logits, data, tmp_path)
    # and back out: the trained weights in an ONNX model that graphc reads back the same
    (again,) = from_onnx(to_onnx(logits, values=trained))
    np.testing.assert_allclose(
        gc.evaluate(again, gc.init_params(again) | {"x": data["x"]}),
        gc.evaluate(logits, trained | {"x": data["x"]}),
        rtol=1e-6,
    )


def test_torch_cnn_keeps_its_logits_and_trains(data, tmp_path):
    """Conv, ReLU, MaxPool, Flatten and Gemm from torch.onnx.export: read with graphc's
    convolution and pooling ops."""
    (logits,) = from_onnx(os.path.join(FIXTURES, "torch_cnn.onnx"))
    assert gc.inputs(logits)[0].shape == (None, 1, 8, 8)
    assert {"conv2d", "max_pool2d"} <= {n.op for n in gc.topological_order(logits)}
    values = gc.init_params(logits) | {"x": data["images"]}
    np.testing.assert_allclose(
        gc.evaluate(logits, values), data["cnn_logits"], rtol=1e-5, atol=1e-5
    )
    loss = gc.softmax_cross_entropy(logits, gc.input("y", (None,), "int64"))
    batch = {"x": data["images"], "y": data["digits"]}
    _check_and_train(loss, logits, batch, tmp_path, max_elements=120, epochs=5)
