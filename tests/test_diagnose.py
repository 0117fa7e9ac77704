"""visual.diagnose on real training runs: each kind of learning curve gets its verdict, and the
verdict's words carry the numbers it rests on."""

import re

import numpy as np
import pytest
from sklearn.datasets import make_circles

import graphc as gc
import visual
from graphc.datasets import digits, split
from graphc.modelfile import import_model_file
from graphc.trainer import compile_trainer, train


def run(loss, logits, data, epochs, batch_size=32):
    trainer = compile_trainer(loss, "adam", predictions=logits, lr=0.01)
    return train(trainer, data, epochs, batch_size=batch_size).history


def dropout_example():
    """The issue's command: graphc train examples/dropout.py --epochs 20 --optimizer adam."""
    model = import_model_file("examples/dropout.py")
    return run(*model.model(), model.data(), 20)


def prelu_digits():
    """The lecture's PReLU network on digits, as graphc demo trains it."""
    model = import_model_file("examples/prelu_l2.py")
    return run(*model.model(), model.data(), 20)


def wide_net_on_100_rows():
    """256 ReLU units (19k params), no regularization, 100 training digits, 150 epochs."""
    data = digits()
    data["train"] = {k: v[:100] for k, v in data["train"].items()}
    x, y = gc.input("x", (None, 64)), gc.input("y", (None,), "int64")
    logits = gc.dense(gc.dense(x, 256, "relu"), 10)
    return run(gc.softmax_cross_entropy(logits, y), logits, data, 150, batch_size=20)


def linear_on_circles():
    """A linear classifier on two concentric circles, which no line separates; it starts
    from zero weights (chance, as logistic regression usually does)."""
    points, labels = make_circles(600, noise=0.1, factor=0.5, random_state=0)
    data = split(points, labels.astype(np.int64))
    x, y = gc.input("x", (None, 2)), gc.input("y", (None,), "int64")
    logits = gc.dense(x, 2, init="zeros", name="linear")
    return run(gc.softmax_cross_entropy(logits, y), logits, data, 30)


RUNS = [
    (dropout_example, "good fit"),
    (prelu_digits, "good fit"),
    (wide_net_on_100_rows, "overfitting"),
    (linear_on_circles, "underfitting"),
]


def numbers(text):
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*(?:e[-+]\d+)?", text)]


@pytest.mark.parametrize("make, kind", RUNS, ids=[make.__name__ for make, _ in RUNS])
def test_real_training_runs_get_the_right_verdict(make, kind):
    history = make()
    reading = visual.diagnose(history)
    assert reading.kind == kind, reading.text
    # the words carry the smoothed end losses they rest on, and the gap says what they mean
    shown = numbers(reading.text)
    assert any(np.isclose(n, reading.val_loss, rtol=5e-3) for n in shown), reading.text
    assert any(np.isclose(n, reading.train_loss, rtol=5e-3) for n in shown), reading.text
    assert np.isclose(reading.gap, (reading.val_loss - reading.train_loss) / reading.train_loss), (
        reading
    )
    if reading.gap >= 1:
        ratio = reading.val_loss / reading.train_loss
        assert f"{ratio:,.{0 if ratio >= 100 else 1}f} times training" in reading.text
    elif reading.gap > 0.01:
        assert f"{reading.gap:.0%} above training" in reading.text
    if kind == "overfitting":
        assert f"stop at epoch {reading.best_epoch:g}" in reading.text
        assert reading.rise > 2 * reading.noise


def test_one_noisy_epoch_is_not_a_trend():
    e = np.arange(1, 21)
    train = 2 * np.exp(-e / 3) + 0.05
    val = train + 0.02
    val[-1] += 0.05  # a one-epoch uptick at the end
    h = {"epoch": list(e), "loss": list(train), "val_loss": list(val)}
    assert visual.diagnose(h).kind == "good fit"


def test_gap_words_match_their_numbers():
    from visual.diagnosis import gap_words

    assert gap_words(0.1, 0.15).endswith("validation is 50% above training")
    assert gap_words(0.01, 1.0).endswith("validation is 100 times training")
    assert gap_words(0.2, 0.5).endswith("validation is 2.5 times training")
    assert "validation is 20% below training" in gap_words(0.1, 0.08)
    assert gap_words(0.1, 0.1004).endswith("within 1% of training")
