"""Regression with mean squared error: one hidden tanh layer predicts diabetes progression
from ten standardized measurements (scikit-learn's bundled diabetes data)."""

import graphc as gc
from graphc.datasets import diabetes


def model(hidden: int = 16):
    """(loss, prediction): the MSE of a 10-16-1 tanh network."""
    x = gc.input("x", (None, 10))
    y = gc.input("y", (None, 1))
    W1 = gc.param("W1", (10, hidden), init="xavier_normal")
    b1 = gc.param("b1", (hidden,))
    W2 = gc.param("W2", (hidden, 1), init="xavier_normal")
    b2 = gc.param("b2", (1,))
    h = gc.named(gc.tanh(x @ W1 + b1), "h")
    prediction = gc.named(h @ W2 + b2, "prediction")
    return gc.named(gc.mse(prediction, y), "loss"), prediction


def data():
    """Diabetes (442 patients): inputs and target standardized on the training split."""
    return diabetes()
