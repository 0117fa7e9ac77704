"""Deeper networks, one line per layer: `depth` dense PReLU layers of `width` units, then a
dense layer to the 10 digit classes and softmax cross-entropy. Each gc.dense makes its own
params (dense1.W, dense1.b, dense1.alpha, ...) under its own scope, so the rendering shows one
box per layer:

    graphc render examples/deep_mlp.py -o deep.svg --collapse
    graphc train examples/deep_mlp.py --epochs 20 --optimizer adam --lr 0.003
"""

import graphc as gc
from graphc.datasets import digits


def model(depth: int = 3, width: int = 64):
    """(loss, logits) of a digits classifier with `depth` hidden PReLU layers."""
    x = gc.input("x", (None, 64))
    y = gc.input("y", (None,), "int64")
    h = x
    for _ in range(depth):
        h = gc.dense(h, width, "prelu")
    logits = gc.dense(h, 10, name="logits")
    return gc.named(gc.softmax_cross_entropy(logits, y), "loss"), logits


def data():
    """Digits, a quarter held out for validation."""
    return digits()
