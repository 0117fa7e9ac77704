"""What a convolutional network learned, as image grids (matplotlib): for each convolution,
its filters (one small image per output channel, its first input channel) and the
activation maps of one image (the layer's output, one image per channel)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

import graphc as gc
from graphc import GraphError, Node


def _layers(model: Node | list) -> list[tuple[Node, Node]]:
    """(convolution node, the layer's output) for each 2-d convolution, in order: the
    output is the node named after the convolution's scope (gc.conv's activation), else
    the convolution itself."""
    order = gc.topological_order(model if isinstance(model, list) else [model])
    named = {n.name: n for n in order if n.name}
    return [
        (n, named.get(n.scope, n) if n.scope else n)
        for n in order
        if n.op == "conv2d" and n.inputs[1].op == "param"
    ]


def _mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Images (k, h, w) tiled into one array, a NaN gap of one pixel between them."""
    k, h, w = images.shape
    rows = -(-k // columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = image
    return out


def feature_maps(
    model: Node, values: Mapping, *, image: int = 0, max_maps: int = 32, title: str | None = None
) -> Figure:
    """The filters and the activation maps of image `image` of each 2-d convolution layer of
    `model` (a loss or the logits): one row per layer, filters left, maps right. `values`
    holds the params and a batch of the model's inputs (gc.evaluate's values)."""
    layers = _layers(model)
    if not layers:
        raise GraphError("feature_maps: the model has no conv2d layer (with a param as weights)")
    outputs = gc.evaluate([out for _, out in layers], dict(values))
    first = next(iter(outputs))
    if not 0 <= image < first.shape[0]:
        raise GraphError(f"feature_maps: image {image} is not in the batch of {first.shape[0]}")
    fig = Figure(figsize=(10, 2.6 * len(layers) + 0.4), layout="constrained")
    axes = fig.subplots(len(layers), 2, squeeze=False, width_ratios=[1, 2])
    for (conv, out), maps, (left, right) in zip(layers, outputs, axes):
        weights = np.asarray(values[conv.inputs[1].name])[:max_maps, 0]
        columns = int(np.ceil(np.sqrt(len(weights))))
        left.imshow(
            _mosaic(weights, columns),
            cmap="RdBu_r",
            vmin=-np.abs(weights).max(),
            vmax=np.abs(weights).max(),
        )
        left.set_title(
            f"{conv.inputs[1].name}: {len(weights)} filters (input channel 0)", fontsize=9
        )
        chosen = maps[image, :max_maps]
        right.imshow(_mosaic(chosen, int(np.ceil(np.sqrt(len(chosen)) * 1.5))), cmap="viridis")
        right.set_title(
            f"{out.name or conv.op}: {len(chosen)} activation maps of image "
            f"{image} ({maps.shape[2]}×{maps.shape[3]})",
            fontsize=9,
        )
        for ax in (left, right):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig
