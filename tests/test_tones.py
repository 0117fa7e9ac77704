"""Synthetic sound (graphc.datasets.tones) and the 1-D convolution example that tells its
four bands apart: the exported NumPy script trains it to >= 95 % on the held-out signals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.datasets import TONE_BANDS, tones
from graphc.modelfile import import_model_file, load_model

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "tones_conv1d.py")


def test_tones_are_balanced_signals_with_class_ids():
    data = tones()
    assert set(data) == {"train", "validation"}
    for split, rows in (("train", 900), ("validation", 300)):
        x, y = data[split]["x"], data[split]["y"]
        assert x.shape == (rows, 1, 128) and x.dtype == np.float64
        assert y.shape == (rows,) and y.dtype == np.int64
        assert np.bincount(y).tolist() == [rows // 4] * 4
        assert np.all(np.isfinite(x))
    small = tones(n=40, length=64, validation=0.5)
    assert small["train"]["x"].shape == (20, 1, 64)
    assert np.bincount(small["validation"]["y"]).tolist() == [5] * 4


def test_tones_are_the_same_for_a_seed_and_differ_across_seeds():
    a, b, c = tones(seed=3), tones(seed=3), tones(seed=4)
    for split in ("train", "validation"):
        for name in ("x", "y"):
            np.testing.assert_array_equal(a[split][name], b[split][name])
    assert not np.array_equal(a["train"]["x"], c["train"]["x"])


def test_no_signal_is_both_trained_on_and_held_out():
    data = tones()
    seen = {row.tobytes() for row in data["train"]["x"]}
    assert len(seen) == 900
    assert not seen & {row.tobytes() for row in data["validation"]["x"]}


def test_each_class_is_a_tone_inside_its_band():
    data = tones(n=80, length=2048, noise=0.0)
    x = np.concatenate([data["train"]["x"], data["validation"]["x"]])[:, 0]
    y = np.concatenate([data["train"]["y"], data["validation"]["y"]])
    peak = np.argmax(np.abs(np.fft.rfft(x, axis=1)), axis=1) / x.shape[1]  # cycles per sample
    low, high = np.array(TONE_BANDS)[y].T
    resolution = 1.0 / x.shape[1]
    assert np.all((low - resolution <= peak) & (peak <= high + resolution))
    amplitude = np.abs(x).max(axis=1)
    assert np.all((amplitude <= 1.0) & (amplitude > 0.45))


def test_a_linear_classifier_of_the_raw_samples_is_at_chance():
    """The phase is random, so no one weighting of the samples finds the band: what the
    example's convolutions and pooling are for."""
    from sklearn.linear_model import LogisticRegression

    data = tones()
    train, held = data["train"], data["validation"]
    fit = LogisticRegression(max_iter=2000).fit(train["x"][:, 0], train["y"])
    assert fit.score(held["x"][:, 0], held["y"]) < 0.35


@pytest.mark.parametrize("n", [6, 7, 0, 4.0, True])
def test_tones_name_a_bad_count(n):
    with pytest.raises(gc.ArgumentError, match=r"test_tones.py:\d+: tones: n must be"):
        tones(n=n)


def test_the_examples_pooling_is_torch_max_pool1d():
    """Values and the gradient (to each window's first maximum, ties included) of the
    example's max_pool1d equal a NumPy max_pool1d's, which torch's equals."""
    pool = import_model_file(EXAMPLE).max_pool1d
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (3, 2, 12)).astype(np.float64)  # small integers: many ties
    upstream = rng.normal(size=(3, 2, 3))
    h, g = gc.input("h", (None, 2, 12)), gc.input("g", (None, 2, 3))
    out = pool(h, 4)
    value, grad = gc.evaluate([out, gc.grad(gc.sum(out * g), h)], {"h": x, "g": upstream})
    windows = x.reshape(3, 2, 3, 4)
    np.testing.assert_array_equal(value, windows.max(axis=-1))
    want = np.zeros_like(windows)
    np.put_along_axis(want, windows.argmax(axis=-1)[..., None], upstream[..., None], axis=-1)
    np.testing.assert_array_equal(grad, want.reshape(x.shape))


def test_the_exported_script_tells_the_bands_apart(tmp_path):
    example = load_model(EXAMPLE)
    train, held = example.data["train"], example.data["validation"]
    np.savez(tmp_path / "tones.npz", x=train["x"], y=train["y"], x_val=held["x"], y_val=held["y"])
    path = gc.export(
        example.loss, tmp_path / "train_tones.py", "adam", lr=0.01, batch_size=32, epochs=20
    )
    result = subprocess.run(
        [sys.executable, str(path), "tones.npz", "--quiet", "--history", "history.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    accuracy = json.loads((tmp_path / "history.json").read_text())["val_accuracy"]
    assert accuracy[-1] >= 0.95, accuracy
