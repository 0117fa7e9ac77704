"""The proximal L1 step (`proximal_l1=True`) in all three exported modules: each step is the
optimizer's step on the loss without its L1 terms, then a soft threshold by lr * strength,
checked against NumPy from gc.grad; it sets weights exactly to zero where the subgradient
step does not."""

import numpy as np
import pytest

import graphc as gc
from graphc.trainer import import_trainer

STRENGTH, LR = 0.5, 0.1
MODULES = [("fast", "numpy"), ("readable", "numpy"), ("fast", "jax")]


def classifier():
    """A linear softmax classifier with an L1 term on W and an L2 term on b."""
    x, y = gc.input("x", (None, 6)), gc.input("y", (None,), "int64")
    W, b = gc.param("W", (6, 3), init="xavier_uniform"), gc.param("b", (3,), init=0.1)
    rest = gc.softmax_cross_entropy(x @ W + b, y) + 1e-2 * gc.l2(b)
    return gc.named(rest + STRENGTH * gc.l1(W), "loss"), rest


def steps(module, backend, params, state, batch, n):
    """n training steps; the params after each."""
    seen = []
    for _ in range(n):
        if backend == "jax":
            params, state, _ = module["train_step"](params, state, batch)
            params = {k: np.asarray(v) for k, v in params.items()}
        else:
            module["train_step"](params, state, batch)
        seen.append({k: np.array(v) for k, v in params.items()})
    return seen


@pytest.mark.parametrize("style, backend", MODULES, ids=["fast", "readable", "jax"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_each_step_is_the_optimizers_step_then_a_soft_threshold(
    tmp_path, rng, style, backend, optimizer
):
    if backend == "jax":
        pytest.importorskip("jax")
    loss, rest = classifier()
    path = gc.export(
        loss, tmp_path / "m.py", optimizer, style=style, backend=backend, lr=LR, proximal_l1=True
    )
    module = import_trainer(path)
    batch = {"x": rng.normal(size=(16, 6)), "y": rng.integers(0, 3, 16)}
    params = {k: np.array(v) for k, v in module["init_params"](0).items()}
    state = module["init_state"](0)
    want = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    grads = gc.grad(rest, gc.params(rest))  # the loss without its L1 term
    for got in steps(module, backend, {k: v.copy() for k, v in params.items()}, state, batch, 4):
        for p, g in zip(gc.params(rest), gc.evaluate(grads, want | batch, training=True)):
            velocity[p.name] = 0.9 * velocity[p.name] + g if optimizer == "momentum" else g
            want[p.name] = want[p.name] - LR * velocity[p.name]
        w = want["W"]
        want["W"] = np.sign(w) * np.maximum(np.abs(w) - LR * STRENGTH, 0.0)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-13, err_msg=k)
    assert np.sum(got["W"] == 0) > 0 and np.all((got["W"] == 0) == (want["W"] == 0))


def test_only_the_proximal_step_lands_on_zero_and_it_needs_an_l1_term(tmp_path, rng):
    loss, rest = classifier()
    batch = {"x": rng.normal(size=(16, 6)), "y": rng.integers(0, 3, 16)}
    zeros = {}
    for proximal in (False, True):
        module = import_trainer(
            gc.export(loss, tmp_path / f"m{proximal}.py", lr=LR, proximal_l1=proximal)
        )
        params, state = module["init_params"](0), module["init_state"](0)
        for _ in range(20):
            module["train_step"](params, state, batch)
        zeros[proximal] = int(np.sum(params["W"] == 0))
    assert zeros[False] == 0 and zeros[True] >= 6, zeros
    with pytest.raises(gc.GraphError, match="needs an L1 penalty on a param"):
        gc.export(rest, tmp_path / "none.py", proximal_l1=True)


def test_graphc_train_takes_the_proximal_step_on_the_l1_example(tmp_path, capsys):
    import os

    from graphc.cli import main

    example = os.path.join(os.path.dirname(__file__), "..", "examples", "l1_vs_l2.py")
    saved = tmp_path / "w.npz"
    args = ["train", example, "--epochs", "3", "--quiet", "--save", str(saved)]
    assert main(args + ["--proximal-l1"]) == 0
    with np.load(saved) as params:
        assert np.sum(params["W"] == 0) > 0
    assert main(args) == 0
    with np.load(saved) as params:
        assert np.sum(params["W"] == 0) == 0  # the subgradient step jumps over zero
    capsys.readouterr()
