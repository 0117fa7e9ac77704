"""gc.dense: one-line layers with their own params under their own scope."""

import numpy as np
import pytest

import graphc as gc
import visual


def mlp(depth, activation="prelu", width=16):
    x = gc.input("x", (None, 8))
    h = x
    for _ in range(depth):
        h = gc.dense(h, width, activation)
    return gc.dense(h, 3)


def test_a_deep_mlp_is_a_loop_of_one_liners_with_one_scope_per_layer():
    logits = mlp(3)
    names = [p.name for p in gc.params(logits)]
    assert sorted(names) == sorted(
        [f"dense{i}.{p}" for i in (1, 2, 3) for p in ("W", "b", "alpha")] + ["dense4.W", "dense4.b"]
    )
    assert {p.scope for p in gc.params(logits)} == {f"dense{i}" for i in range(1, 5)}
    assert logits.name == "dense4" and logits.shape == (None, 3)
    source = visual.render(logits, collapse=True).source
    assert source.count("shape=box3d") == 4  # one box per layer


def test_dense_computes_activation_of_x_at_w_plus_b():
    x = gc.input("x", (None, 5))
    out = gc.dense(x, 4, "prelu", name="hidden")
    values = gc.init_params(out) | {"x": np.random.default_rng(0).normal(size=(6, 5))}
    z = values["x"] @ values["hidden.W"] + values["hidden.b"]
    expected = np.where(z > 0, z, values["hidden.alpha"] * z)
    np.testing.assert_allclose(gc.evaluate(out, values), expected)
    np.testing.assert_array_equal(values["hidden.alpha"], np.full(4, 0.25))
    assert values["hidden.W"].std() == pytest.approx(np.sqrt(2 / 5), rel=0.5)  # he_normal


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus", None])
def test_each_activation_and_its_gradient(activation):
    x = gc.input("x", (None, 3))
    out = gc.dense(x, 2, activation, name="layer")
    loss = gc.sum(out * out)
    values = gc.init_params(loss) | {"x": np.random.default_rng(1).normal(size=(4, 3))}
    check = gc.check_grad(loss, gc.params(loss), values)
    assert check.ok, check


def test_float32_input_makes_float32_params():
    out = gc.dense(gc.input("x", (None, 3), "float32"), 2)
    assert {p.dtype for p in gc.params(out)} == {"float32"}


@pytest.mark.parametrize(
    "args, message",
    [
        ((0,), "units must be a positive int"),
        ((2, "swish"), "unknown activation 'swish'"),
    ],
)
def test_mistakes_name_the_call(args, message):
    with pytest.raises(gc.GraphError, match=message) as error:
        gc.dense(gc.input("x", (None, 3)), *args)
    assert "test_nn.py" in str(error.value)


def test_input_needs_a_known_feature_size():
    with pytest.raises(gc.GraphError, match="known last"):
        gc.dense(gc.input("x", (None, None)), 2)
