"""visual.feature_maps and `graphc feature-maps`: the filters and activation maps of the
CNN example's convolution layers, as image grids."""

import os

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.cli import main
from graphc.modelfile import example_values, load_model

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "cnn_digits.py")


@pytest.fixture(scope="module")
def cnn():
    model = load_model(EXAMPLE)
    return model, example_values(model, 3)[0]


def test_one_row_per_convolution_filters_left_maps_right(cnn, tmp_path):
    model, values = cnn
    fig = visual.feature_maps(model.loss, values, image=1, max_maps=8)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "conv1.W: 8 filters (input channel 0)",
        "conv1: 8 activation maps of image 1 (8×8)",
        "conv2.W: 8 filters (input channel 0)",
        "conv2: 8 activation maps of image 1 (4×4)",
    ]
    # the maps are the layer's ReLU output for that image, tiled
    (maps,) = gc.evaluate(
        [n for n in gc.topological_order(model.loss) if n.name == "conv1"], values
    )
    shown = fig.axes[1].get_images()[0].get_array()
    np.testing.assert_array_equal(shown[:8, :8], maps[1, 0])
    visual.save(fig, tmp_path / "maps.png")
    assert (tmp_path / "maps.png").read_bytes().startswith(b"\x89PNG")


def test_a_model_without_convolutions_or_a_missing_image_is_one_error(cnn):
    model, values = cnn
    x = gc.input("x", (None, 3))
    with pytest.raises(gc.GraphError, match="no conv2d layer"):
        visual.feature_maps(gc.sum(x), {"x": np.ones((2, 3))})
    with pytest.raises(gc.GraphError, match="image 5 is not in the batch of 3"):
        visual.feature_maps(model.loss, values, image=5)


def test_the_command_line_draws_trained_params(cnn, tmp_path, capsys):
    model, values = cnn
    np.savez(tmp_path / "trained.npz", **{k: 2 * v for k, v in gc.init_params(model.loss).items()})
    out = tmp_path / "maps.png"
    assert (
        main(
            [
                "feature-maps",
                EXAMPLE,
                "-o",
                str(out),
                "--params",
                str(tmp_path / "trained.npz"),
                "--image",
                "1",
            ]
        )
        == 0
    )
    assert out.read_bytes().startswith(b"\x89PNG") and "wrote" in capsys.readouterr().out
