"""Bad ONNX input ends in one clear GraphError naming what is wrong and where: a truncated
or corrupted file, an unknown op, an opset too old or too new, declared shapes that
contradict the initializers, external data that is missing or outside the model's folder,
names that cannot become identifiers. Nothing is read or written outside the given paths."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.onnx import OnnxError, from_onnx, to_onnx  # noqa: E402


def mlp(opset=17, x_name="x", w_name="W", op="MatMul", w_shape=(4, 3), declared=None):
    """A one-layer model y = x @ W + b, with what each test breaks."""
    w = numpy_helper.from_array(np.ones(w_shape), w_name)
    b = numpy_helper.from_array(np.zeros(3), "b")
    nodes = [
        helper.make_node(op, [x_name, w_name], ["h"], name="layer"),
        helper.make_node("Add", ["h", "b"], ["y"], name="bias"),
    ]
    inputs = [helper.make_tensor_value_info(x_name, TensorProto.DOUBLE, ["N", 4])]
    if declared is not None:  # the initializer W also listed as an input, with this shape
        inputs.append(helper.make_tensor_value_info(w_name, TensorProto.DOUBLE, declared))
    out = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 3])
    graph = helper.make_graph(nodes, "g", inputs, [out], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def write(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString() if not isinstance(model, bytes) else model)
    return str(path)


def test_a_good_model_reads(tmp_path):
    (y,) = from_onnx(write(tmp_path, mlp()))
    out = gc.evaluate(y, gc.init_params(y) | {"x": np.ones((2, 4))})
    np.testing.assert_array_equal(out, np.full((2, 3), 4.0))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_truncated_file(tmp_path, keep):
    data = mlp().SerializeToString()
    path = write(tmp_path, data[: int(len(data) * keep)])
    with pytest.raises(OnnxError, match=r"m\.onnx: not (an ONNX model|a valid ONNX model)"):
        from_onnx(path)


def test_a_corrupted_file_and_another_format(tmp_path):
    data = bytearray(mlp().SerializeToString())
    data[5:25] = bytes(range(200, 220))
    with pytest.raises(OnnxError, match=r"m\.onnx: not (an ONNX model|a valid ONNX model)"):
        from_onnx(write(tmp_path, bytes(data)))
    with pytest.raises(OnnxError, match="j.onnx: not an ONNX model"):
        from_onnx(write(tmp_path, b'{"format": "graphc-graph"}', "j.onnx"))
    with pytest.raises(OnnxError, match="nothing.onnx: no such file"):
        from_onnx(str(tmp_path / "nothing.onnx"))


def test_an_unknown_op_is_named_with_its_node(tmp_path):
    model = mlp()
    model.graph.node[1].op_type = "FancyAdd"
    with pytest.raises(OnnxError, match="not a valid ONNX model: No Op registered for FancyAdd"):
        from_onnx(model)  # ONNX's checker knows no such op
    model = mlp()
    model.graph.node[1].op_type = "BitShift"  # an ONNX op graphc does not read
    model.graph.node[1].attribute.append(helper.make_attribute("direction", "LEFT"))
    with pytest.raises(
        OnnxError, match=r"node 1 \(BitShift 'bias'\): unknown op 'BitShift' \(graphc reads"
    ):
        from_onnx(model)


def test_an_unsupported_attribute_is_named():
    model = mlp()
    model.graph.node[0].attribute.append(helper.make_attribute("mystery", 1))
    with pytest.raises(OnnxError, match="Unrecognized attribute: mystery for operator MatMul"):
        from_onnx(model)
    stats = [numpy_helper.from_array(np.ones(3), n) for n in ("s", "bias", "mean", "var")]
    node = helper.make_node("BatchNormalization", ["x", "s", "bias", "mean", "var"], ["y"])
    node.attribute.append(helper.make_attribute("training_mode", 1))  # an attribute value
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 3])
    graph = helper.make_graph([node], "bn", [x], [y], stats)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxError, match="BatchNormalization in training mode is not supported"):
        from_onnx(model)


@pytest.mark.parametrize("opset, words", [(6, "opset 6 is too old"), (99, "opset 99 is too new")])
def test_an_opset_too_old_or_too_new(opset, words):
    with pytest.raises(OnnxError, match=words + r"; graphc reads opsets 7 to \d+"):
        from_onnx(mlp(opset=opset))


def test_declared_shapes_that_contradict_the_initializers(tmp_path):
    with pytest.raises(OnnxError, match=r"input 'W' is declared with shape \(3, 4\), but its "):
        from_onnx(write(tmp_path, mlp(declared=[3, 4])))
    model = mlp()
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5
    with pytest.raises(OnnxError, match=r"value 'y' is declared with shape \(None, 5\), but it"):
        from_onnx(model)
    with pytest.raises(OnnxError, match=r"node 0 \(MatMul 'layer'\): .*inner dimensions differ"):
        from_onnx(mlp(w_shape=(5, 3)))


def _external(tmp_path, location):
    model = mlp()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("double_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    return write(tmp_path, model)


def test_external_data_missing_or_outside_the_models_folder(tmp_path):
    with pytest.raises(OnnxError, match="keeps its data in 'weights.bin', which does not exist"):
        from_onnx(_external(tmp_path, "weights.bin"))
    secret = tmp_path.parent / "secret.bin"
    secret.write_bytes(np.ones(12).tobytes())
    for outside in ("../secret.bin", str(secret)):
        with pytest.raises(OnnxError, match="outside the model's folder; graphc reads nothing"):
            from_onnx(_external(tmp_path, outside))
    os.symlink(secret, tmp_path / "link.bin")  # a link beside the model leading out of it
    with pytest.raises(OnnxError, match="outside the model's folder"):
        from_onnx(_external(tmp_path, "link.bin"))
    (tmp_path / "weights.bin").write_bytes(np.full(12, 2.0).tobytes())
    (y,) = from_onnx(_external(tmp_path, "weights.bin"))  # inside the folder: read
    out = gc.evaluate(y, gc.init_params(y) | {"x": np.ones((1, 4))})
    np.testing.assert_array_equal(out, np.full((1, 3), 8.0))


@pytest.mark.parametrize("bad", ["x\n", "a\\b"])
def test_names_that_cannot_become_identifiers(bad):
    with pytest.raises(OnnxError, match="names .*need printable characters without backslashes"):
        from_onnx(mlp(x_name=bad))


def test_odd_but_printable_names_import_and_lower(tmp_path):
    (y,) = from_onnx(mlp(x_name="input:0", w_name="fc.weight/0"))
    assert {p.name for p in gc.params(y)} == {"fc.weight/0", "b"}
    lowered = gc.lower(y)
    assert all(a.isidentifier() for a in lowered.args)
    values = gc.init_params(y) | {"input:0": np.ones((2, 4))}
    np.testing.assert_array_equal(lowered.run(values), gc.evaluate(y, values))


def test_exporting_writes_only_the_path_and_keeps_an_old_file_on_failure(tmp_path):
    x = gc.input("x", (None, 3))
    out = tmp_path / "m.onnx"
    to_onnx(gc.exp(x), out)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
    old = out.read_bytes()
    mask = gc.ops.apply("dropout_mask", x, rate=0.5, seed=0)
    with pytest.raises(OnnxError, match="cannot be written as ONNX"):
        to_onnx(x * mask, out)
    assert out.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["m.onnx"]
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        to_onnx(gc.exp(x), tmp_path / "missing" / "m.onnx")


def test_randomly_corrupted_files_end_in_a_graph_error_or_read(tmp_path):
    """Bytes changed at random (a seeded 150): from_onnx reads the file or raises one
    GraphError, never another exception (800 such files pass in a longer run)."""
    rng = np.random.default_rng(0)
    fixture = os.path.join(os.path.dirname(__file__), "fixtures", "torch_mlp.onnx")
    with open(fixture, "rb") as f:
        sources = [mlp().SerializeToString(), f.read()]
    outcomes = set()
    for trial in range(150):
        data = bytearray(sources[trial % 2])
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(len(data))] = rng.integers(256)
        try:
            gc.init_params(from_onnx(write(tmp_path, bytes(data))))
            outcomes.add("read")
        except gc.GraphError:
            outcomes.add("refused")
    assert outcomes == {"read", "refused"}
