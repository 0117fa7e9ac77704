"""Sigmoid versus tanh saturation in a deep, narrow network.

Four hidden layers on the two-moons data. With sigmoid, each layer multiplies the
backward signal by sigmoid' <= 0.25, so the first layer's gradient is tiny next to the
last one's; tanh' reaches 1 at zero and the signal survives. `model("tanh")` builds the
other variant; `graphc` itself calls `model()`, the sigmoid one.
"""

import graphc as gc
from graphc.datasets import moons

ACTIVATIONS = {"sigmoid": gc.sigmoid, "tanh": gc.tanh}


def model(activation: str = "sigmoid", depth: int = 4, width: int = 16):
    """(loss, logits) of a `depth`-layer MLP with the given activation, binary cross-entropy."""
    act = ACTIVATIONS[activation]
    h = gc.input("x", (None, 2))
    y = gc.input("y", (None, 1))
    n_in = 2
    for layer in range(1, depth + 1):
        with gc.scope(f"layer{layer}"):
            W = gc.param(f"W{layer}", (n_in, width), init="xavier_normal")
            b = gc.param(f"b{layer}", (width,))
            h = gc.named(act(h @ W + b), f"h{layer}")
        n_in = width
    W = gc.param("W_out", (width, 1), init="xavier_normal")
    logits = gc.named(h @ W, "logits")
    loss = gc.named(gc.binary_cross_entropy_with_logits(logits, y), "loss")
    return loss, logits


def data():
    """Two noisy half-moons (400 points, fixed seed), a quarter held out."""
    return moons()
