"""The gradient through time and the attention map: the lines and pixels carry the data."""

import numpy as np
import pytest

import graphc as gc
import visual
from test_visual_output import png_size


def tanh_rnn(steps: int, scale: float):
    """(loss, hidden states, values) of a small tanh RNN whose recurrent weights are
    `scale` times an orthogonal matrix: below 1 its gradient fades back through time."""
    rng = np.random.default_rng(0)
    xs, h0 = gc.input("xs", (None, steps, 2)), gc.const(np.zeros((1, 4)))
    w_ih, w_hh = gc.param("w_ih", (4, 2)), gc.param("w_hh", (4, 4))
    hidden, last = gc.unroll(lambda x, h: gc.rnn_cell(x, h, w_ih, w_hh), xs, h0)
    loss = gc.sum(last)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    values = {"xs": rng.normal(size=(3, steps, 2)) * 0.1, "w_ih": rng.normal(size=(4, 2))}
    return loss, hidden, values | {"w_hh": scale * q}


def test_the_gradient_through_time_fades_as_the_jacobians_shrink(tmp_path):
    norms = visual.gradient_norms_through_time(*tanh_rnn(12, 0.5))
    assert norms.shape == (12,) and np.all(np.diff(norms) > 0)  # larger towards the loss
    assert norms[0] / norms[-1] < 0.5**10  # at least the product of 11 factors below 0.5
    fig = visual.gradient_through_time({"0.5 Q": tanh_rnn(12, 0.5), "0.95 Q": tanh_rnn(12, 0.95)})
    ax = fig.axes[0]
    ratio = f"{norms[0] / norms[-1]:.1e}"
    assert ax.lines[0].get_label() == f"0.5 Q: ‖∂L/∂h₁‖ / ‖∂L/∂h_T‖ = {ratio}"
    assert ax.lines[1].get_label().startswith("0.95 Q: ")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), norms)
    assert ax.get_yscale() == "log"
    visual.save(fig, tmp_path / "through_time.png")
    assert png_size(tmp_path / "through_time.png")[0] > 300


def test_the_attention_map_shows_each_weight_with_its_tokens(tmp_path):
    q = gc.input("q", (5, 3))
    weights = gc.evaluate(
        gc.attention_weights(q, q, causal=True), {"q": np.random.default_rng(1).normal(size=(5, 3))}
    )
    assert np.allclose(weights.sum(axis=1), 1) and np.all(np.triu(weights, 1) == 0)
    fig = visual.attention_map(weights, queries=list("abcde"), keys=list("vwxyz"))
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("vwxyz")
    visual.save(fig, tmp_path / "attention.png")
    assert png_size(tmp_path / "attention.png")[0] > 100


def test_the_pictures_refuse_what_they_cannot_draw():
    with pytest.raises(gc.GraphError, match="one \\(queries, keys\\) matrix"):
        visual.attention_map(np.ones((2, 3, 3)))
    with pytest.raises(gc.GraphError, match="3 keys labels for 4 keys"):
        visual.attention_map(np.ones((2, 4)), keys="abc")
    with pytest.raises(gc.GraphError, match="list of hidden-state nodes"):
        visual.gradient_through_time(gc.param("w", ()), [], {})
