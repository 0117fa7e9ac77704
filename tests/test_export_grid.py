"""gc.grid_search: one training run per combination, ranked on a validation split."""

import json

import numpy as np
import pytest

import graphc as gc
from test_export import lecture_net


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian classes in 5 dimensions (easy, fast to fit)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, 5)) + 3.0 * np.eye(3, 5)[y]
    return {"x": x, "y": y}


def test_every_combination_is_trained_and_the_table_is_ranked(blobs):
    loss = lecture_net(n_in=5, hidden=8, classes=3, rate=0.2)
    result = gc.grid_search(
        loss, blobs, lr=[1e-6, 0.1], batch_size=[16, 64], dropout=[0.0, 0.5], epochs=4
    )
    assert len(result.rows) == 8
    combos = {(r["lr"], r["batch_size"], r["dropout"]) for r in result.rows}
    assert combos == {(lr, b, d) for lr in (1e-6, 0.1) for b in (16, 64) for d in (0.0, 0.5)}
    accuracies = [r["val_accuracy"] for r in result.rows]
    assert accuracies == sorted(accuracies, reverse=True) and result.metric == "val_accuracy"
    assert result.best["lr"] == 0.1 and result.best["val_accuracy"] > 0.9
    text = str(result)
    assert text.splitlines()[0].split()[:3] == ["lr", "batch_size", "dropout"]
    assert "best by val_accuracy: lr=0.1" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["histories"]) == 8 and data["histories"][0]["epoch"] == [1, 2, 3, 4]


def test_dropout_rate_is_applied_per_run_and_restored(blobs):
    loss = lecture_net(n_in=5, hidden=8, classes=3, rate=0.2)
    result = gc.grid_search(loss, blobs, lr=[0.1], dropout=[None, 0.0, 0.9], epochs=2)
    losses = {r["dropout"]: r["loss"] for r in result.rows}
    assert len(set(losses.values())) == 3  # the model's own 0.2, none, and heavy dropout
    assert losses[0.9] > losses[0.0]


def test_bad_grids_are_refused(blobs):
    plain = lecture_net(n_in=5, hidden=8, classes=3)
    with pytest.raises(gc.GraphError, match="no dropout"):
        gc.grid_search(plain, blobs, dropout=[0.5], epochs=1)
    with pytest.raises(gc.GraphError, match="lr values must be"):
        gc.grid_search(plain, blobs, lr=["fast"], epochs=1)
    with pytest.raises(gc.GraphError, match="val_fraction"):
        gc.grid_search(plain, blobs, val_fraction=1.5, epochs=1)


def test_bad_data_and_learning_rates_are_refused_before_training(blobs):
    plain = lecture_net(n_in=5, hidden=8, classes=3)
    for lr in (float("nan"), -0.1, 0):
        with pytest.raises(gc.GraphError, match="positive and finite"):
            gc.grid_search(plain, blobs, lr=[lr], epochs=1)
    bad = [
        ({"x": blobs["x"]}, "no array 'y'"),
        ({"x": blobs["x"], "y": blobs["y"][:10]}, "differ in length"),
        ({"x": blobs["x"][:, :4], "y": blobs["y"]}, r"'x' has shape \(300, 4\)"),
    ]
    for data, message in bad:
        with pytest.raises(gc.GraphError, match=message):
            gc.grid_search(plain, data, epochs=1)
        with pytest.raises(gc.GraphError, match=message):
            gc.grid_search(plain, blobs, data, epochs=1)
