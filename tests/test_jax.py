"""gc.export(..., backend="jax"): the JAX module computes what the NumPy module computes
(loss, gradients, one optimizer step) on every example model, in float64 and float32."""

import glob
import importlib.util
import runpy

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Node, topological_order
from graphc.ops.registry import apply

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)  # the float64 modules need it (they set it too)

EXAMPLES = sorted(glob.glob("examples/*.py"))
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def load(path):
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_float32(outputs):
    """The same graph with every float64 leaf, constant and dtype attribute in float32."""
    new = {}
    for node in topological_order(outputs):
        attrs = {k: "float32" if v == "float64" else v for k, v in node.attrs.items()}
        if not node.is_leaf:
            new[node.id] = apply(
                node.op, *[new[i.id] for i in node.inputs], _name=node.name, **attrs
            )
            continue
        dtype = "float32" if node.dtype == "float64" else node.dtype
        for key in ("value", "init"):
            if isinstance(attrs.get(key), np.ndarray) and attrs[key].dtype == np.float64:
                attrs[key] = attrs[key].astype(np.float32)
        new[node.id] = Node(node.op, (), attrs, node.shape, dtype, name=node.name, scope=node.scope)
    return [new[o.id] for o in outputs]


def example(path, dtype):
    """(loss, predictions or None, a batch of 64 training rows) of an example model file."""
    namespace = runpy.run_path(path)
    outputs = namespace["model"]()
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    if dtype == "float32":
        outputs = as_float32(outputs)
    train = namespace["data"]()["train"]
    batch = {k: np.asarray(v[:64]) for k, v in train.items()}
    return outputs[0], (outputs[1] if len(outputs) > 1 else None), batch


def exported_pair(tmp_path, loss, predictions, optimizer):
    """The NumPy and the JAX module of one model, every dropout rate set to 0 in both (their
    random masks come from different generators)."""
    modules = []
    for backend in ("numpy", "jax"):
        path = tmp_path / f"model_{backend}.py"
        gc.export(loss, path, optimizer, predictions=predictions, backend=backend)
        module = load(path)
        module.DROPOUT_RATES.update({k: 0.0 for k in module.DROPOUT_RATES})
        modules.append(module)
    return modules


def assert_close(actual, expected, rtol, what):
    """Norm-wise relative agreement, |actual - expected| <= rtol * |expected| in the 2-norm
    (every array of a dict together: a gradient is one vector over all the params)."""
    if isinstance(expected, dict):
        for name in expected:
            assert np.asarray(actual[name]).dtype == np.asarray(expected[name]).dtype, name
        actual = np.concatenate([np.ravel(actual[name]) for name in expected])
        expected = np.concatenate([np.ravel(expected[name]) for name in expected])
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, what
    difference = actual.astype(np.float64) - expected
    error = float(np.linalg.norm(difference)) / max(float(np.linalg.norm(expected)), 1e-300)
    assert error <= rtol, f"{what}: relative error {error:.2e} > {rtol:.0e}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path", EXAMPLES)
def test_jax_module_agrees_with_the_numpy_module(tmp_path, path, dtype):
    loss, predictions, batch = example(path, dtype)
    numpy_module, jax_module = exported_pair(tmp_path, loss, predictions, "adam")
    rtol = TOLERANCE[dtype]
    params, state = numpy_module.init_params(0), numpy_module.init_state(0)
    jparams, jstate = jax_module.init_params(0), jax_module.init_state(0)
    value, grads = numpy_module.loss_and_grads(params, batch, state)
    jvalue, jgrads = jax_module.loss_and_grads(jparams, batch, jstate)
    assert abs(jvalue - value) <= rtol * max(abs(value), 1.0), (jvalue, value)
    assert_close(jgrads, grads, rtol, "gradient")
    numpy_loss = numpy_module.train_step(params, state, batch)
    jparams, jstate, jloss = jax_module.train_step(jparams, jstate, batch)
    assert abs(float(jloss) - numpy_loss) <= rtol * max(abs(numpy_loss), 1.0)
    for name in params:
        assert_close(jparams[name], params[name], rtol, f"{name} after one step")
    for slot, root in (("m", False), ("v", True)):  # v is squared: its root is the gradient's size
        expected = {name: slots[slot] for name, slots in state["slots"].items()}
        actual = {name: np.asarray(slots[slot]) for name, slots in jstate["slots"].items()}
        if root:
            expected, actual = ({k: np.sqrt(v) for k, v in d.items()} for d in (expected, actual))
        assert_close(actual, expected, rtol, f"Adam's {slot}")
    for name in state["stats"]:
        assert_close(jstate["stats"][name], state["stats"][name], rtol, f"statistic {name}")
    assert int(jstate["step"]) == state["step"] == 1
    assert_close(
        jax_module.forward(jparams, batch, jstate),
        numpy_module.forward(params, batch, state),
        rtol,
        "forward after the step",
    )


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_sgd_and_momentum_steps_agree(tmp_path, optimizer):
    loss, predictions, batch = example("examples/prelu_l2.py", "float64")
    numpy_module, jax_module = exported_pair(tmp_path, loss, predictions, optimizer)
    params, state = numpy_module.init_params(0), numpy_module.init_state(0)
    jparams, jstate = jax_module.init_params(0), jax_module.init_state(0)
    for _ in range(2):  # momentum's velocity is read on the second step
        numpy_module.train_step(params, state, batch, lr=0.05)
        jparams, jstate, _ = jax_module.train_step(jparams, jstate, batch, 0.05)
    for name in params:
        assert_close(jparams[name], params[name], 1e-12, f"{name} after two steps")


def test_jax_grad_of_the_modules_loss_agrees_with_graphcs_gradient_graph(tmp_path):
    loss, predictions, batch = example("examples/batchnorm.py", "float64")
    _, jax_module = exported_pair(tmp_path, loss, predictions, "sgd")
    params, state = jax_module.init_params(0), jax_module.init_state(0)
    key, rates = state["key"], jax_module.dropout_rates()

    def loss_only(params):
        return jax_module._loss_and_grads(params, state["stats"], batch, key, rates)[0]

    by_jax = jax.grad(loss_only)(params)
    _, by_graphc, _ = jax_module._loss_and_grads(params, state["stats"], batch, key, rates)
    assert_close(by_graphc, by_jax, 1e-12, "gradient")


def test_dropout_draws_masks_from_the_state_key(tmp_path):
    loss, predictions, batch = example("examples/dropout.py", "float64")
    path = gc.export(loss, tmp_path / "drop.py", predictions=predictions, backend="jax")
    module = load(path)
    params = module.init_params(0)
    first = module.loss_and_grads(params, batch, module.init_state(0))[0]
    assert module.loss_and_grads(params, batch, module.init_state(0))[0] == first
    assert module.loss_and_grads(params, batch, module.init_state(1))[0] != first
    x = jax.numpy.ones((1000, 50))
    mask = np.asarray(module.dropout_mask(jax.random.key(0), x, 0.3))
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs(np.mean(mask == 0) - 0.3) < 0.02


def test_predict_samples_monte_carlo_dropout_as_the_numpy_module_does(tmp_path):
    loss, predictions, batch = example("examples/dropout.py", "float64")
    numpy_module, jax_module = (
        load(gc.export(loss, tmp_path / f"{b}.py", predictions=predictions, backend=b))
        for b in ("numpy", "jax")
    )
    params, state = jax_module.init_params(0), jax_module.init_state(0)
    single = np.asarray(jax_module.predict(params, state, batch))
    assert_close(single, numpy_module.forward(numpy_module.init_params(0), batch), 1e-12, "fwd")
    mean, std = map(np.asarray, jax_module.predict(params, state, batch, mc_samples=400))
    assert np.all(std > 0)
    # linear after its dropout layer: the mean is the inference pass, within 5 standard errors
    assert np.all(np.abs(mean - single) < 5 * std / np.sqrt(400) + 1e-12)
    numpy_state = numpy_module.init_state(0)
    _, numpy_std = numpy_module.predict(numpy_module.init_params(0), numpy_state, batch, 400)
    assert np.sqrt(np.mean(std**2)) == pytest.approx(np.sqrt(np.mean(numpy_std**2)), rel=0.1)
