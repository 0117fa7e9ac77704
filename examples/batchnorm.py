"""Batch normalization before the activation: dense -> batch norm -> ReLU -> dense.

In training mode batch norm normalizes with the batch's mean and variance and updates its
running statistics; in inference mode it uses the running statistics. The dense layer
has no bias: batch norm's beta takes its place.
"""

import graphc as gc
from graphc.datasets import digits


def model(hidden: int = 32):
    """(loss, logits) of a 64-32-10 network with batch norm before the ReLU."""
    x = gc.input("x", (None, 64))
    y = gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (64, hidden), init="he_normal")
    gamma = gc.param("bn_gamma", (hidden,), init=1.0)
    beta = gc.param("bn_beta", (hidden,))
    h = gc.named(gc.relu(gc.batch_norm(x @ W1, gamma, beta, name="bn")), "h")
    W2 = gc.param("W2", (hidden, 10), init="xavier_normal")
    b2 = gc.param("b2", (10,))
    logits = gc.named(h @ W2 + b2, "logits")
    return gc.named(gc.softmax_cross_entropy(logits, y), "loss"), logits


def data():
    """Digits, a quarter held out for validation."""
    return digits()
