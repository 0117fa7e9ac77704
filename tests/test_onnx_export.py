"""gc.to_onnx: ONNX Runtime computes what gc.evaluate computes, on every shipped example,
every registered op (or the op is refused with one error naming its node and line), and
random graphs; the model passes ONNX's full check; graphc -> ONNX -> graphc keeps values
and gradients."""

import glob
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from hypothesis import given, settings  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.modelfile import load_model  # noqa: E402
from graphc.onnx import OnnxError, from_onnx, to_onnx  # noqa: E402
from graphc.ops.registry import REGISTRY, apply  # noqa: E402
from graphs import random_graphs  # noqa: E402

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.py")))
OPS = sorted(name for name, op in REGISTRY.items() if not op.leaf)
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def run_ort(model, feed: dict) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})


def assert_close(got, want, dtype):
    """Normwise relative agreement for floats, equality for integers and booleans."""
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    scale = max(np.linalg.norm(want.ravel()), np.finfo(want.dtype).tiny)
    assert np.linalg.norm((got - want).ravel()) <= TOLERANCE[dtype] * scale


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_runs_in_onnx_runtime_as_in_graphc(path, tmp_path):
    model = load_model(path)
    predictions = model.outputs[1]
    out = tmp_path / "model.onnx"
    proto = to_onnx(predictions, out)
    onnx.checker.check_model(onnx.load(out), full_check=True)
    values = gc.init_params(model.outputs) | model.data["validation"]
    want = gc.evaluate(predictions, values)
    (got,) = run_ort(proto, values)
    assert_close(got, want, "float64")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert predictions.name in {n.name for n in proto.graph.node}  # graphc's names kept


def test_a_float32_network_agrees_in_float32(rng):
    x = gc.input("x", (None, 5), "float32")
    w1 = gc.param("W1", (5, 8), dtype="float32", init="he_normal")
    w2 = gc.param("W2", (8, 3), dtype="float32")
    b = gc.param("b", (3,), dtype="float32", init=0.1)
    alpha = gc.param("alpha", (8,), dtype="float32", init=0.2)
    h = gc.batch_norm(gc.prelu(x @ w1, alpha), 1.0, 0.0)
    y = gc.named(gc.log_softmax(gc.tanh(h) @ w2 + b), "log_probs")
    feed = gc.init_params(y) | {"x": rng.normal(size=(6, 5)).astype(np.float32)}
    (got,) = run_ort(to_onnx(y), feed)
    assert got.dtype == np.float32
    assert_close(got, gc.evaluate(y, feed), "float32")


def _samples(name, dtype, rng):
    for k, (arrays, attrs) in enumerate(REGISTRY[name].samples(rng)):
        arrays = [np.asarray(a) for a in arrays]
        arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
        leaves = [gc.input(f"a{k}_{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
        yield apply(name, *leaves, **attrs), {leaf.name: a for leaf, a in zip(leaves, arrays)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPS)
def test_every_op_is_exported_exactly_or_refused_by_name_and_line(name, dtype, rng):
    if REGISTRY[name].samples is None:
        pytest.skip(f"{name} has no samples")
    for node, feed in _samples(name, dtype, rng):
        try:
            proto = to_onnx(node)
        except OnnxError as error:  # the one refusal: the node, its op and the user's line
            message = str(error)
            assert message.startswith(f"{__file__}:") and "cannot be written as ONNX" in message
            assert name in message
            continue
        want = gc.evaluate(node, feed)
        (got,) = run_ort(proto, feed)
        assert_close(got, want, dtype)


def test_dropout_mask_is_refused_naming_the_users_line():
    x = gc.input("x", (None, 3))
    mask = apply("dropout_mask", x, rate=0.5, seed=1)
    line = mask.site
    with pytest.raises(OnnxError) as caught:
        to_onnx(x * mask)
    assert str(caught.value).startswith(line) and "'dropout_mask'" in str(caught.value)


@settings(max_examples=25, deadline=None)
@given(random_graphs(max_ops=6))
def test_random_graphs_run_in_onnx_runtime_as_in_graphc(case):
    outputs, values = case
    want = gc.evaluate(outputs, values)
    got = run_ort(to_onnx(outputs, values=values), values)
    for g, w in zip(got, want):
        assert_close(g, w, "float64")


def test_inference_mode_uses_running_statistics_and_trained_values(tmp_path):
    model = load_model(os.path.join(os.path.dirname(__file__), "..", "examples", "batchnorm.py"))
    logits = model.outputs[1]
    values = gc.init_params(model.outputs, seed=3)
    values["bn.running_mean"] = np.linspace(-1, 1, 32)
    values["bn.running_var"] = np.linspace(0.5, 2, 32)
    proto = to_onnx(logits, values=values)
    props = {p.key: p.value for p in proto.metadata_props}
    assert set(props["graphc.frozen"].split(",")) == {"bn.running_mean", "bn.running_var"}
    x = model.data["validation"]["x"][:7]
    want = gc.evaluate(logits, values | {"x": x})
    assert_close(run_ort(proto, {"x": x})[0], want, "float64")
    # back in graphc: the statistics stay constants, the params come back trainable
    (back,) = from_onnx(proto)
    assert sorted(p.name for p in gc.params(back)) == sorted(p.name for p in gc.params(logits))
    assert_close(gc.evaluate(back, gc.init_params(back) | {"x": x}), want, "float64")


def test_round_trip_keeps_values_and_gradients(rng):
    model = load_model(os.path.join(os.path.dirname(__file__), "..", "examples", "deep_mlp.py"))
    logits = model.outputs[1]
    values = gc.init_params(model.outputs, seed=1)
    (back,) = from_onnx(to_onnx(logits, values=values))
    y = gc.input("y", (None,), "int64")
    batch = {"x": model.data["train"]["x"][:16], "y": model.data["train"]["y"][:16]}
    losses = [gc.softmax_cross_entropy(z, y) for z in (logits, back)]
    grads = [gc.grad(loss, gc.params(loss)) for loss in losses]
    want = gc.evaluate([losses[0], *grads[0]], values | batch)
    got = gc.evaluate([losses[1], *grads[1]], gc.init_params(back) | batch)
    for g, w in zip(got, want):
        assert_close(g, w, "float64")


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_opsets_from_13_on(opset):
    x = gc.input("x", (None, 4))
    y = gc.softmax(x * 2.0, axis=-1)
    proto = to_onnx(y, opset=opset)
    assert proto.opset_import[0].version == opset
    feed = {"x": np.arange(8.0).reshape(2, 4)}
    assert_close(run_ort(proto, feed)[0], gc.evaluate(y, feed), "float64")


@pytest.mark.parametrize("opset", [12, 99, "18", True])
def test_an_opset_out_of_range_is_refused(opset):
    with pytest.raises(OnnxError, match="opset must be an int from 13 to"):
        to_onnx(gc.exp(gc.input("x", (2,))), opset=opset)


@pytest.fixture
def registered():
    """Register ops for one test only (the registry-walking suites never see them)."""
    from graphc.ops.registry import register

    names = []

    def add(opdef):
        names.append(opdef.name)
        return register(opdef)

    yield add
    for name in names:
        del REGISTRY[name]


def test_a_new_op_made_of_known_primitives_exports_with_no_onnx_work(registered):
    from graphc.ops.registry import OpDef

    def infer(attrs, x, ids):
        return (ids.shape[0] + 2, x.shape[1]), x.dtype

    # a made-up op whose lowering uses np.pad and np.take with an index array
    registered(
        OpDef(
            "onnx_test_pad_rows",
            2,
            infer,
            kernel=lambda x, ids: np.pad(np.take(x, ids, axis=0), ((1, 1), (0, 0))),
            nondiff=True,
            decompose=lambda n: apply(
                "onnx_test_pad", apply("onnx_test_take", *n.inputs), widths=((1, 1), (0, 0))
            ),
        )
    )
    registered(
        OpDef(
            "onnx_test_take",
            2,
            lambda attrs, x, ids: ((ids.shape[0], x.shape[1]), x.dtype),
            kernel=lambda x, ids: np.take(x, ids, axis=0),
            array_fn="take",
            array_args=lambda n: (tuple(n.inputs), {"axis": 0}),
            nondiff=True,
        )
    )
    registered(
        OpDef(
            "onnx_test_pad",
            1,
            lambda attrs, x: ((x.shape[0] + 2, x.shape[1]), x.dtype),
            kernel=lambda x, widths: np.pad(x, widths),
            array_fn="pad",
            array_args=lambda n: ((n.inputs[0], n.attrs["widths"]), {}),
            nondiff=True,
        )
    )
    x = gc.input("x", (5, 3))
    ids = gc.input("ids", (4,), "int64")
    y = apply("onnx_test_pad_rows", x, ids)
    feed = {"x": np.arange(15.0).reshape(5, 3), "ids": np.array([4, 0, 0, 2])}
    proto = to_onnx(y)
    assert {"Gather", "Pad"} <= {n.op_type for n in proto.graph.node}
    assert_close(run_ort(proto, feed)[0], gc.evaluate(y, feed), "float64")


def _windows_kernel(x, kernel, stride, padding, dilation, fill=0.0):
    """The windows of x (N, C, *size) as (N, *positions, C, *kernel), as the convolution
    ops' helper computes them (a reference written from its definition)."""
    d = len(kernel)
    pad = ((0, 0), (0, 0), *padding)
    x = np.pad(x, pad, constant_values=np.asarray(fill, dtype=x.dtype))
    span = tuple(g * (k - 1) + 1 for k, g in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + d)))
    view = view[(slice(None), slice(None), *(slice(None, None, s) for s in stride))]
    view = view[(Ellipsis, *(slice(None, None, g) for g in dilation))]
    return np.ascontiguousarray(view.transpose((0, *range(2, 2 + d), 1, *range(2 + d, 2 + 2 * d))))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "size, attrs",
    [
        ((5, 4), dict(kernel=(2, 3), stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 2))),
        ((6, 6), dict(kernel=(3, 3), stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1))),
        ((7,), dict(kernel=(2,), stride=(2,), padding=((0, 1),), dilation=(1,), fill=-np.inf)),
    ],
)
def test_the_windows_helper_of_convolutions_exports(registered, size, attrs, dtype, rng):
    from graphc.ops.registry import OpDef

    def infer(a, x):
        spans = [g * (k - 1) + 1 for k, g in zip(a["kernel"], a["dilation"])]
        padded = [n + lo + hi for n, (lo, hi) in zip(x.shape[2:], a["padding"])]
        counts = [(p - sp) // st + 1 for p, sp, st in zip(padded, spans, a["stride"])]
        return (x.shape[0], *counts, x.shape[1], *a["kernel"]), x.dtype

    registered(
        OpDef(
            "onnx_test_windows",
            1,
            infer,
            kernel=_windows_kernel,
            helper="windows",
            array_args=lambda n: ((n.inputs[0],), dict(n.attrs)),
            nondiff=True,
        )
    )
    attrs = {"fill": 0.0, **attrs}
    x = gc.input("x", (None, 2, *size), dtype)
    patches = apply("onnx_test_windows", x, **attrs)
    feed = {"x": rng.normal(size=(3, 2, *size)).astype(dtype)}
    (got,) = run_ort(to_onnx(patches), feed)
    want = gc.evaluate(patches, feed)
    np.testing.assert_array_equal(got, want)  # a gather moves values, exactly
