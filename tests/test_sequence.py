"""The sequence ops' own behaviour beyond the registry-wide checks: bad input gets one
clear error naming the user's line, and the builders keep torch's conventions."""

import numpy as np
import pytest

import graphc as gc

HERE = "test_sequence.py:"


def test_a_mask_that_does_not_broadcast_is_refused_at_the_users_line():
    x = gc.input("x", (None, 5))
    with pytest.raises(gc.ShapeError, match=HERE + r".*mask of shape \(4,\) does not broadcast"):
        gc.softmax(x, mask=gc.input("m", (4,), "bool"))
    with pytest.raises(gc.DtypeError, match=HERE + r".*mask must be boolean"):
        gc.softmax(x, mask=gc.input("m", (5,)))


def test_a_masked_entry_gets_probability_zero_and_no_gradient():
    x = gc.param("x", (2, 3))
    mask = np.array([[True, False, True], [False, False, True]])
    p = gc.softmax(x, mask=mask)
    values = {"x": np.array([[1.0, 50.0, 2.0], [3.0, -1.0, 0.5]])}
    got = gc.evaluate(p, values)
    assert np.all(got[~mask] == 0) and np.allclose(got.sum(axis=1), 1)
    (g,) = gc.evaluate(gc.grad(gc.sum(p * np.arange(6.0).reshape(2, 3)), [x]), values)
    assert np.all(g[~mask] == 0)


def test_var_needs_degrees_of_freedom_and_a_whole_correction():
    with pytest.raises(gc.GraphError, match=HERE + r".*no degrees of freedom"):
        gc.var(gc.input("x", (1, 3)), axis=0)
    with pytest.raises(gc.GraphError, match=HERE + r".*correction must be"):
        gc.var(gc.input("x", (4, 3)), correction=0.5)


def test_var_over_the_batch_axis_counts_rows_at_run_time():
    x = gc.input("x", (None, 3))
    rows = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_allclose(gc.evaluate(gc.var(x, axis=0), {"x": rows}), rows.var(0, ddof=1))
    np.testing.assert_allclose(gc.evaluate(gc.std(x, axis=0), {"x": rows}), rows.std(0, ddof=1))


def test_layer_norm_refuses_parameters_of_the_wrong_size():
    x = gc.input("x", (None, 4))
    with pytest.raises(gc.ShapeError, match=HERE + r".*gamma has shape \(3,\)"):
        gc.layer_norm(x, gc.param("g", (3,)), gc.param("b", (4,)))
