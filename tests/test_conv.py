"""Convolution and pooling against PyTorch: values, vjps and jvps equal torch.nn.functional's
float64 results (tests/fixtures/make_conv_reference.py wrote them) to 1e-12, normwise
relative, with the batch dimension None; and the errors of bad input, in their words."""

import json
import pathlib
import re

import numpy as np
import pytest

import graphc as gc

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "conv_reference.npz")
CASES = json.loads(str(FIXTURE["cases"]))
TOL = 1e-12


def relative(got, want) -> float:
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def build(op, inputs, kwargs):
    """The graphc node of a fixture case: x with a batch of None, weights and bias fixed."""
    if op == "flatten":
        return gc.flatten(inputs[0], start=kwargs["start_dim"])
    if op.endswith("pool2d"):
        kwargs = dict(kwargs)
        return getattr(gc, op)(inputs[0], kwargs.pop("kernel_size"), **kwargs)
    return getattr(gc, op)(*inputs, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_values_vjps_and_jvps_equal_pytorchs(case):
    name, op, count, kwargs = case
    arrays = [FIXTURE[f"{name}/in{i}"] for i in range(count)]
    leaves = [
        gc.input(f"in{i}", (None, *a.shape[1:]) if i == 0 else a.shape)
        for i, a in enumerate(arrays)
    ]
    values = {leaf.name: a for leaf, a in zip(leaves, arrays)}
    node = build(op, leaves, kwargs)
    assert relative(gc.evaluate(node, values), FIXTURE[f"{name}/out"]) <= TOL
    cotangent = gc.input("u", node.shape)
    vjps = gc.evaluate(gc.vjp([node], [cotangent], leaves), values | {"u": FIXTURE[f"{name}/u"]})
    for i, got in enumerate(vjps):
        assert relative(got, FIXTURE[f"{name}/vjp{i}"]) <= TOL, f"vjp of input {i}"
    tangents = [gc.input(f"t{i}", leaf.shape) for i, leaf in enumerate(leaves)]
    (jvp,) = gc.jvp([node], leaves, tangents)
    values |= {f"t{i}": FIXTURE[f"{name}/t{i}"] for i in range(count)}
    assert relative(gc.evaluate(jvp, values), FIXTURE[f"{name}/jvp"]) <= TOL
    lowered = gc.lower(node)  # the NumPy the exporter writes: windows and one product
    assert relative(lowered.run(values), FIXTURE[f"{name}/out"]) <= TOL


def test_max_pool_ties_go_to_the_first_maximum():
    x = gc.input("x", (1, 1, 2, 2))
    (g,) = gc.evaluate(gc.grad(gc.sum(gc.max_pool2d(x, 2)), [x]), {"x": np.ones((1, 1, 2, 2))})
    np.testing.assert_array_equal(g, [[[[1.0, 0.0], [0.0, 0.0]]]])


def _error(build_graph) -> str:
    with pytest.raises(gc.ShapeError) as error:
        build_graph()
    return str(error.value)


def test_bad_input_is_one_error_naming_the_line_and_what_is_wrong():
    x = gc.input("x", (None, 3, 8, 8))
    W = gc.param("W", (4, 3, 3, 3))
    here = "test_conv.py:"
    message = _error(lambda: gc.conv2d(gc.input("img", (None, 8, 8)), W))
    assert here in message and "(N, C, H, W)" in message and "channel axis" in message
    message = _error(lambda: gc.conv2d(x, gc.param("W2", (4, 2, 3, 3))))
    assert here in message and "the input has 3 channels" in message
    message = _error(lambda: gc.conv2d(x, gc.param("W3", (4, 1, 3, 3)), groups=2))
    assert "groups=2 must divide the 3 input channels" in message
    message = _error(lambda: gc.conv2d(x, gc.param("W4", (4, 3, 9, 9))))
    assert "more than the padded input" in message
    message = _error(lambda: gc.conv2d(x, W, stride=0))
    assert "stride must be a positive int" in message
    message = _error(lambda: gc.max_pool2d(x, 3, stride=-1))
    assert here in message and "stride must be a positive int" in message
    message = _error(lambda: gc.conv2d(x, W, stride=2, padding="same"))
    assert "padding='same' needs stride 1" in message
    message = _error(lambda: gc.max_pool2d(x, 2, padding=2))
    assert "at most half the kernel" in message


def test_the_fast_module_writes_windows_into_buffers_it_keeps(tmp_path):
    """A convolution's windows (the largest array of its step) go into a buffer of the
    module's pool, made once per batch size, not a fresh array each call; steps on the
    reused buffers give the same numbers as the first."""
    x = gc.input("x", (None, 1, 6, 6))
    h = gc.conv(x, 4, 3, activation="relu")
    loss = gc.softmax_cross_entropy(
        gc.flatten(h) @ gc.param("W", (144, 3)), gc.input("y", (None,), "int64")
    )
    path = gc.export(loss, tmp_path / "m.py")
    source = pathlib.Path(path).read_text()
    assert re.search(r"= windows\(x, .*out=_buf\d+\)", source), "windows without a kept buffer"
    namespace: dict = {"__name__": "m"}
    exec(compile(source, path, "exec"), namespace)  # noqa: S102 - graphc's own output
    rng = np.random.default_rng(0)
    batch = {"x": rng.normal(size=(5, 1, 6, 6)), "y": rng.integers(0, 3, 5)}
    params = namespace["init_params"](0)
    first = namespace["loss_and_grads"](params, batch)
    again = namespace["loss_and_grads"](params, batch)
    assert first[0] == again[0]
    for name in first[1]:
        np.testing.assert_array_equal(first[1][name], again[1][name])
    values = {**params, **batch}
    np.testing.assert_allclose(first[0], gc.evaluate(loss, values), rtol=1e-12)
    names = sorted(first[1])
    leaves = {p.name: p for p in gc.params(loss)}
    wants = gc.evaluate(gc.grad(loss, [leaves[n] for n in names]), values)
    for name, want in zip(names, wants):
        np.testing.assert_allclose(first[1][name], want, rtol=1e-10, atol=1e-12)
