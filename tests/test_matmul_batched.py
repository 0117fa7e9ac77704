"""Batched matmul: NumPy's broadcasting of the leading dimensions, with a batch of None."""

import numpy as np
import pytest

import graphc as gc


def test_a_stack_of_matrices_times_shared_weights_differentiates_over_the_batch(rng):
    x, W = gc.input("x", (None, 3, 4)), gc.param("W", (4, 5))
    y = gc.sum(gc.tanh(x @ W))
    assert (x @ W).shape == (None, 3, 5)
    values = {"x": rng.normal(size=(2, 3, 4)), "W": rng.normal(size=(4, 5))}
    gx, gW = gc.evaluate(gc.grad(y, [x, W]), values)
    nx, nW = gc.numeric_grad(y, [x, W], values)
    np.testing.assert_allclose(gx, nx, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gW, nW, rtol=1e-7, atol=1e-9)
    lowered = gc.lower(gc.grad(y, [x, W]))
    for got, want in zip(lowered(values["x"], values["W"]), (gx, gW)):
        np.testing.assert_array_equal(got, want)


def test_leading_dimensions_that_do_not_broadcast_are_named():
    with pytest.raises(gc.ShapeError, match=r"leading dimensions of \(2, 3, 4\) @ \(3, 4, 5\)"):
        gc.input("a", (2, 3, 4)) @ gc.input("b", (3, 4, 5))
    with pytest.raises(gc.ShapeError, match="inner dimensions differ"):
        gc.input("a", (2, 3, 4)) @ gc.input("b", (2, 3, 5))
