"""Training curves and the differentiation figures: lines carry the data, readings are right."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import graphc as gc
import visual
from test_visual_output import png_size

EPOCHS = np.arange(1, 21)


def history(train, val=None, acc=None, val_acc=None):
    h = {"epoch": list(EPOCHS), "loss": list(train)}
    for key, values in (("val_loss", val), ("accuracy", acc), ("val_accuracy", val_acc)):
        if values is not None:
            h[key] = list(values)
    return h


OVERFIT = history(
    2 * np.exp(-EPOCHS / 4) + 0.05,
    2 * np.exp(-EPOCHS / 4) + 0.1 + 0.03 * np.maximum(EPOCHS - 8, 0),
    1 - np.exp(-EPOCHS / 4),
    0.85 - np.exp(-EPOCHS / 4),
)
UNDERFIT = history(2.3 - 0.2 * (1 - np.exp(-EPOCHS / 3)), 2.31 - 0.2 * (1 - np.exp(-EPOCHS / 3)))
GOOD = history(2 * np.exp(-EPOCHS / 4) + 0.05, 2 * np.exp(-EPOCHS / 4) + 0.06)


def line_data(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


def test_history_lines_carry_the_data_and_the_reading(tmp_path):
    fig = visual.plot_history(OVERFIT, title="digits")
    loss_ax, acc_ax = fig.axes
    lines = line_data(loss_ax)
    assert lines["training loss"] == (OVERFIT["epoch"], OVERFIT["loss"])
    assert lines["validation loss"] == (OVERFIT["epoch"], OVERFIT["val_loss"])
    acc = line_data(acc_ax)
    assert acc["training accuracy"][1] == OVERFIT["accuracy"]
    assert acc["validation accuracy"][1] == OVERFIT["val_accuracy"]
    notes = " ".join(t.get_text() for t in loss_ax.texts)
    best = int(np.argmin(OVERFIT["val_loss"]))  # the measured minimum, not a smoothed one
    assert visual.diagnose(OVERFIT).best_epoch == OVERFIT["epoch"][best]
    marked = f"lowest validation loss {OVERFIT['val_loss'][best]:.4g}\n(epoch {best + 1:g})"
    assert "overfitting" in notes and marked in notes
    width, height = png_size(visual.save(fig, tmp_path / "curves.png"))
    assert 900 < width < 2000 and 300 < height < 1000


@pytest.mark.parametrize(
    "curves, kind", [(OVERFIT, "overfitting"), (UNDERFIT, "underfitting"), (GOOD, "good fit")]
)
def test_the_lecture_reading_of_learning_curves(curves, kind):
    reading = visual.diagnose(curves)
    assert reading.kind == kind
    assert kind in " ".join(t.get_text() for t in visual.plot_history(curves).axes[0].texts)


def test_without_validation_only_underfitting_can_be_read():
    assert visual.diagnose(history(GOOD["loss"])).kind == "no validation"
    assert visual.diagnose(history(UNDERFIT["loss"])).kind == "underfitting"
    assert visual.diagnose(history(GOOD["loss"]), high_loss=0.01).kind == "underfitting"
    assert len(visual.plot_history(history(GOOD["loss"])).axes) == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(10, 60), st.floats(0.01, 0.2), st.floats(0.1, 0.5))
@example(10, 0.2, 0.1)  # a short run whose first, steep epochs once hid the rise as noise
@example(10, 0.1875, 0.125)
def test_a_validation_loss_that_turns_upwards_is_overfitting(epochs, floor, climb):
    e = np.arange(1, epochs + 1)
    train = 2 * np.exp(-8 * e / epochs) + floor  # nearly flat by the turn
    turn = epochs // 2
    val = train + 0.05 + climb * np.maximum(e - turn, 0) / (epochs - turn)
    h = {"epoch": list(e), "loss": list(train), "val_loss": list(val)}
    assert visual.diagnose(h).kind == "overfitting"


@settings(max_examples=100, deadline=None)
@given(st.integers(5, 60), st.floats(0.01, 0.2), st.floats(0.0, 0.5))
def test_curves_that_fall_together_are_never_overfitting(epochs, floor, gap):
    e = np.arange(1, epochs + 1)
    train = 2 * np.exp(-e / 3) + floor
    h = {"epoch": list(e), "loss": list(train), "val_loss": list(train * (1 + gap))}
    assert visual.diagnose(h).kind != "overfitting"


def test_eps_sweep_is_log_log_with_each_methods_best_eps_marked():
    eps = 10.0 ** np.arange(-12, 0)
    sweep = {
        "eps": list(eps),
        "error": {"forward": list(1e-16 / eps + eps), "central": list(1e-16 / eps + eps**2)},
        "dtype": "float64",
    }
    ax = visual.plot_eps_sweep(sweep).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    lines = line_data(ax)
    assert lines["forward"] == (sweep["eps"], sweep["error"]["forward"])
    assert lines["central"] == (sweep["eps"], sweep["error"]["central"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "forward: best eps 1e-08 (error 2e-08)",
        "central: best eps 1e-06 (error 1e-10)",
    ]
    assert "float64" in ax.get_title()


def test_swell_and_forward_cost_figures_carry_the_data():
    swell = {"depth": [1, 2, 3, 4], "ops": [5, 15, 45, 135], "ops_cse": [5, 8, 11, 14]}
    ax = visual.plot_swell(swell).axes[0]
    lines = line_data(ax)
    assert lines["expression (tree) ops"] == (swell["depth"], swell["ops"])
    assert lines["after CSE (DAG) ops"] == (swell["depth"], swell["ops_cse"])
    assert "×3.00 per level" in [t.get_text() for t in ax.texts]
    cost = {
        "n_params": [10, 100, 1000],
        "forward_evals": [10, 100, 1000],
        "reverse_evals": [1, 1, 1],
        "forward_seconds": [1e-3, 1e-2, 1e-1],
        "reverse_seconds": [1e-3, 1e-3, 2e-3],
    }
    evals, seconds = visual.plot_forward_cost(cost).axes
    assert line_data(evals)["forward mode"][1] == cost["forward_evals"]
    assert line_data(evals)["reverse mode"][1] == cost["reverse_evals"]
    assert line_data(seconds)["reverse mode"][1] == cost["reverse_seconds"]


def test_malformed_data_gets_a_graph_error():
    with pytest.raises(gc.GraphError, match="needs the key 'loss'"):
        visual.plot_history({"epoch": [1, 2]})
    with pytest.raises(gc.GraphError, match="'val_loss' must be a list of 2 numbers"):
        visual.plot_history({"epoch": [1, 2], "loss": [1, 0.5], "val_loss": [1]})
    with pytest.raises(gc.GraphError, match="needs 'error'"):
        visual.plot_eps_sweep({"eps": [1e-3]})
    with pytest.raises(gc.GraphError, match="use one of the suffixes .png"):
        visual.save(visual.plot_swell({"depth": [1], "ops": [1]}), "x.gif")


def test_the_marked_epoch_is_the_lowest_validation_loss_even_when_smoothing_moves_it():
    """A noisy run whose single lowest epoch (12) is not where the smoothed curve is lowest:
    the plot and the advice name epoch 12 and its loss."""
    e = np.arange(1, 41)
    train = 2 * np.exp(-e / 5) + 0.02
    val = 0.4 + 0.004 * np.maximum(e - 20, 0) ** 1.5 + 0.02 * np.sin(e * 2.1)
    val[11] = 0.3225
    curves = {"epoch": list(e), "loss": list(train), "val_loss": list(val)}
    reading = visual.diagnose(curves)
    assert reading.kind == "overfitting" and reading.best_epoch == 12
    assert "lowest was 0.3225 at epoch 12" in reading.text and "stop at epoch 12" in reading.text
    notes = " ".join(t.get_text() for t in visual.plot_history(curves).axes[0].texts)
    assert "lowest validation loss 0.3225\n(epoch 12)" in notes
