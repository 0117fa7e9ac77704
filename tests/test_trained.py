"""What training returns reads well in a notebook: curves and final metrics, a short repr,
and a history that is still a plain dict of per-epoch lists (JSON as before)."""

import json

import numpy as np
import pytest

import graphc as gc
import visual  # noqa: F401 - importing visual lets results draw their curves
from graphc.trainer import History, Trained, compile_trainer, train


@pytest.fixture(scope="module")
def result():
    x, y = gc.input("x", (None, 4)), gc.input("y", (None,), "int64")
    logits = gc.dense(x, 3, name="linear")
    rng = np.random.default_rng(0)
    split = {"x": rng.normal(size=(60, 4)), "y": rng.integers(0, 3, 60)}
    trainer = compile_trainer(gc.softmax_cross_entropy(logits, y), "adam", predictions=logits)
    return train(trainer, {"train": split, "validation": split, "test": split}, 3)


def test_the_repr_is_a_few_lines_with_the_final_metrics(result):
    lines = repr(result).splitlines()
    assert len(lines) == 3
    assert lines[0] == "Trained: 3 epochs, 2 params (15 numbers)"
    assert f"loss {result.final('loss'):.4f}" in lines[1] and "val_accuracy" in lines[1]
    assert lines[2].startswith("  test: loss")


def test_a_notebook_shows_the_curves_and_the_metrics(result):
    html = result._repr_html_()
    assert "Trained: 3 epochs" in html and '<img src="data:image/png;base64,' in html
    assert result._repr_png_().startswith(b"\x89PNG")


def test_the_history_is_still_a_dict_of_lists(result):
    history = result.history
    assert isinstance(history, dict) and isinstance(history, History)
    assert history["epoch"] == [1, 2, 3] and history.epochs == 3
    assert json.loads(json.dumps(history)) == dict(history)
    assert repr(history).startswith("History(3 epochs; last: loss ")


def test_without_visual_the_html_is_the_metrics_alone(result, monkeypatch):
    monkeypatch.setattr(Trained, "plot", None)
    assert "<img" not in result._repr_html_() and result._repr_png_() is None
