"""Dropout on a hidden layer: in training each hidden unit is zeroed with probability
`rate` and the survivors scaled by 1 / (1 - rate) (inverted dropout), so at inference
the layer is the identity and no rescaling is needed."""

import graphc as gc
from graphc.datasets import digits


def model(rate: float = 0.3, hidden: int = 64):
    """(loss, logits) of a 64-64-10 ReLU network with dropout after the hidden layer."""
    x = gc.input("x", (None, 64))
    y = gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (64, hidden), init="he_normal")
    b1 = gc.param("b1", (hidden,))
    h = gc.named(gc.dropout(gc.relu(x @ W1 + b1), rate, seed=0), "h")
    W2 = gc.param("W2", (hidden, 10), init="xavier_normal")
    b2 = gc.param("b2", (10,))
    logits = gc.named(h @ W2 + b2, "logits")
    return gc.named(gc.softmax_cross_entropy(logits, y), "loss"), logits


def data():
    """Digits, a quarter held out for validation."""
    return digits()
