"""The lecture's network: one dense layer, PReLU with a learned slope per unit, softmax
cross-entropy, and an L2 penalty on the weights, trained on scikit-learn's digits.

    graphc render examples/prelu_l2.py -o prelu.svg --backward
    graphc train examples/prelu_l2.py --epochs 20
"""

import graphc as gc
from graphc.datasets import digits


def model():
    """(loss, logits): the loss first, the logits for accuracy."""
    x = gc.input("x", (None, 64))  # 8x8 pixels, one row per image
    y = gc.input("y", (None,), "int64")  # the digit, 0..9
    W = gc.param("W", (64, 10), init="he_normal")
    b = gc.param("b", (10,))
    alpha = gc.param("alpha", (10,), init=0.25)  # PReLU slope, one per unit
    z = gc.named(x @ W + b, "z")
    logits = gc.named(gc.prelu(z, alpha), "logits")
    data_loss = gc.named(gc.softmax_cross_entropy(logits, y), "data_loss")
    penalty = gc.named(1e-4 * gc.l2(W), "penalty")
    return gc.named(data_loss + penalty, "loss"), logits


def data():
    """Digits, 8x8 pixels scaled to [0, 1]; a quarter held out for validation."""
    return digits()
