"""The lecture's cases, checked against NumPy written out by hand."""

import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network


def reference_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_prelu_network_with_l2_matches_hand_written_numpy(rng):
    loss, logits = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss, seed=1)
    values["alpha"] = np.array([0.1, 0.2, 0.3])
    values |= {"x": rng.normal(size=(8, 4)), "y": rng.integers(0, 3, 8)}
    z = values["x"] @ values["W"] + values["b"]
    h = np.where(z > 0, z, values["alpha"] * z)
    want = (
        -reference_log_softmax(h)[np.arange(8), values["y"]].mean() + 0.1 * (values["W"] ** 2).sum()
    )
    assert gc.evaluate(loss, values) == pytest.approx(want, rel=1e-12)


def test_l1_l2_example_from_the_lecture():
    x = gc.const([1.0, 1.0, 1.0, 1.0])
    W1, W2 = gc.const([1.0, 0, 0, 0]), gc.const([0.25] * 4)
    results = gc.evaluate([W1 @ x, W2 @ x, gc.l2(W1), gc.l2(W2), gc.l1(W1), gc.l1(W2)], {})
    assert [float(r) for r in results] == [1.0, 1.0, 1.0, 0.25, 1.0, 1.0]


def test_mse_regression(rng):
    x, t = gc.input("x", (None, 2)), gc.input("t", (None, 1))
    w = gc.param("w", (2, 1), init=np.array([[1.0], [-2.0]]))
    loss = gc.mse(x @ w, t)
    X, T = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    want = ((X @ np.array([[1.0], [-2.0]]) - T) ** 2).mean()
    assert gc.evaluate(loss, gc.init_params(loss) | {"x": X, "t": T}) == pytest.approx(want)


def test_sigmoid_bce_matches_the_textbook_formula(rng):
    z, t = gc.input("z", (None,)), gc.input("t", (None,))
    Z, T = rng.normal(size=6), (rng.random(6) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-Z))
    want = -(T * np.log(p) + (1 - T) * np.log(1 - p)).mean()
    got = gc.evaluate(gc.binary_cross_entropy_with_logits(z, t), {"z": Z, "t": T})
    assert got == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(gc.evaluate(gc.sigmoid(z), {"z": Z}), p, rtol=1e-15)


def test_softmax_cross_entropy_with_integer_or_one_hot_labels(rng):
    z = gc.input("z", (None, 3))
    Z, Y = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    want = -reference_log_softmax(Z)[np.arange(4), Y].mean()
    by_id = gc.softmax_cross_entropy(z, gc.input("y", (None,), "int64"))
    by_row = gc.softmax_cross_entropy(z, gc.input("p", (None, 3)))
    assert gc.evaluate(by_id, {"z": Z, "y": Y}) == pytest.approx(want, rel=1e-12)
    assert gc.evaluate(by_row, {"z": Z, "p": np.eye(3)[Y]}) == pytest.approx(want, rel=1e-12)


def test_losses_stay_finite_and_correct_for_logits_of_1e4():
    z, y = gc.input("z", (None, 2)), gc.input("y", (None,), "int64")
    ce = gc.evaluate(gc.softmax_cross_entropy(z, y), {"z": [[1e4, -1e4], [1e4, -1e4]], "y": [0, 1]})
    assert ce == pytest.approx(1e4)  # one right (loss 0), one wrong by 2e4: mean 1e4
    b, t = gc.input("b", (None,)), gc.input("t", (None,))
    bce = gc.evaluate(
        gc.binary_cross_entropy_with_logits(b, t), {"b": [1e4, -1e4, 1e4], "t": [1.0, 0.0, 0.0]}
    )
    assert bce == pytest.approx(1e4 / 3)
    s = gc.evaluate(gc.sigmoid(b), {"b": [1e4, -1e4]})
    assert s.tolist() == [1.0, 0.0]
    assert np.isfinite(gc.evaluate(gc.logsumexp(z), {"z": [[1e4, 1e4]]})).all()
    assert gc.evaluate(gc.softplus(b), {"b": [1e4, -1e4]}).tolist() == [1e4, 0.0]


def test_batch_norm_before_the_activation_in_both_modes(rng):
    x = gc.input("x", (None, 3))
    gamma, beta = gc.param("bn.gamma", (3,), init=2.0), gc.param("bn.beta", (3,), init=0.5)
    out = gc.relu(gc.batch_norm(x, gamma, beta, eps=1e-5, momentum=0.9, name="bn"))
    X = rng.normal(3.0, 2.0, size=(16, 3))
    values = gc.init_params(out) | {"x": X}
    updates = {}
    train = gc.evaluate(out, values, training=True, updates=updates)
    xhat = (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-5)
    np.testing.assert_allclose(train, np.maximum(2 * xhat + 0.5, 0), rtol=1e-12)
    np.testing.assert_allclose(updates["bn.running_mean"], 0.1 * X.mean(0), rtol=1e-12)
    np.testing.assert_allclose(updates["bn.running_var"], 0.9 + 0.1 * X.var(0), rtol=1e-12)
    state = {"bn.running_mean": X.mean(0), "bn.running_var": X.var(0)}
    infer = gc.evaluate(out, values | state)  # inference is the default
    np.testing.assert_allclose(infer, train, rtol=1e-9)
    assert set(gc.init_state(out)) == set(state)


def test_dropout_is_active_and_scaled_in_training_and_the_identity_at_test_time():
    x = gc.input("x", (None, 1000))
    out = gc.dropout(x, rate=0.25, seed=3)
    ones = np.ones((4, 1000))
    np.testing.assert_array_equal(gc.evaluate(out, {"x": ones}), ones)
    train = gc.evaluate(out, {"x": ones}, training=True)
    assert set(np.unique(train)) == {0.0, 1 / 0.75}
    assert abs((train == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(train, gc.evaluate(out, {"x": ones}, training=True))
