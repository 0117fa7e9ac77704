"""Multi-class classification: a small ReLU network with a softmax output on the iris
flowers, trained with softmax cross-entropy on integer class ids."""

import graphc as gc
from graphc.datasets import iris


def model(hidden: int = 8):
    """(loss, logits) of a 4-8-3 ReLU network."""
    x = gc.input("x", (None, 4))
    y = gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (4, hidden), init="he_normal")
    b1 = gc.param("b1", (hidden,))
    W2 = gc.param("W2", (hidden, 3), init="xavier_normal")
    b2 = gc.param("b2", (3,))
    h = gc.named(gc.relu(x @ W1 + b1), "h")
    logits = gc.named(h @ W2 + b2, "logits")
    return gc.named(gc.softmax_cross_entropy(logits, y), "loss"), logits


def data():
    """150 iris flowers, 4 standardized measurements, 3 species."""
    return iris()
