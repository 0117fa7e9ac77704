"""Adding an optimizer is one entry of optimizers.OPTIMIZERS (the recipe in that module's
docstring): followed literally here with an optimizer graphc does not ship, it trains the
same in the fast, readable and JAX modules, and the command line offers it."""

import importlib.util

import numpy as np
import pytest

import graphc as gc
from graphc.cli import build_parser
from graphc.codegen import optimizers
from graphc.ops.registry import F


def _descent(grad, slots, lr, h):
    """A running mean of squared gradients scales the step (RMSprop's idea)."""
    s = slots["square"] * h["rho"] + (1.0 - h["rho"]) * (grad * grad)
    return lr * grad / (F.sqrt(s) + h["eps"]), {"square": s}


@pytest.fixture
def rms_recipe(monkeypatch):
    """The recipe's optimizer, registered for one test."""
    opt = optimizers.Optimizer(
        "rms_recipe",
        ("square",),
        {"lr": 0.01, "rho": 0.8, "eps": 1e-8},
        _descent,
        "RMS recipe: s <- rho * s + (1 - rho) * g**2; W <- W - lr * g / (sqrt(s) + eps)",
        ranges={"rho": (0, 1)},
    )
    monkeypatch.setitem(optimizers.OPTIMIZERS, "rms_recipe", opt)
    return opt


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(loss, params, batches, lr, rho, eps):
    """The same steps in float64 NumPy, from gc.evaluate's gradients."""
    params = {k: np.array(v) for k, v in params.items()}
    square = {k: np.zeros_like(v) for k, v in params.items()}
    wrt = gc.params(loss)
    for batch in batches:
        grads = gc.evaluate(gc.grad(loss, wrt), params | batch, training=True)
        for p, g in zip(wrt, grads):
            square[p.name] = square[p.name] * rho + (1.0 - rho) * (g * g)
            params[p.name] = params[p.name] - lr * g / (np.sqrt(square[p.name]) + eps)
    return params


@pytest.mark.parametrize("target", ["fast", "readable", "jax"])
def test_an_optimizer_added_in_one_place_trains_in_every_module(rms_recipe, target, tmp_path):
    if target == "jax":
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    x, y = gc.input("x", (None, 3)), gc.input("y", (None,), "int64")
    W = gc.param("W", (3, 2), init="he_normal")
    loss = gc.softmax_cross_entropy(x @ W + gc.param("b", (2,)), y)
    rng = np.random.default_rng(0)
    batches = [{"x": rng.normal(size=(5, 3)), "y": rng.integers(0, 2, 5)} for _ in range(3)]
    path = tmp_path / f"rms_{target}.py"
    style, backend = ("fast", "jax") if target == "jax" else (target, "numpy")
    gc.export(loss, path, "rms_recipe", style=style, backend=backend, rho=0.7)
    module = _load(path)
    params, state = module.init_params(0), module.init_state(0)
    want = _reference(loss, {k: np.asarray(v) for k, v in params.items()}, batches, 0.01, 0.7, 1e-8)
    for batch in batches:
        if target == "jax":
            params, state, _ = module.train_step(params, state, batch)
        else:
            module.train_step(params, state, batch)
    for name, value in want.items():
        np.testing.assert_allclose(np.asarray(params[name]), value, rtol=1e-12, atol=1e-15)
    assert "rms_recipe" in path.read_text()


def test_the_command_line_offers_the_added_optimizer_and_its_hyper_parameters(rms_recipe):
    args = build_parser().parse_args(["train", "model.py", "--optimizer", "rms_recipe"])
    assert args.optimizer == "rms_recipe"
    assert build_parser().parse_args(["train", "model.py", "--rho", "0.5"]).rho == 0.5
    with pytest.raises(gc.GraphError, match="rho must be in"):
        optimizers.get("rms_recipe", rho=1.5)
