"""L1 versus L2 regularization on the same softmax classifier.

The lecture's example: for x = [1, 1, 1, 1], W1 = [1, 0, 0, 0] and W2 = [.25, .25, .25, .25]
give the same score W.x = 1, and the same L1 penalty (1), but L2 prefers the spread-out W2
(0.25 against 1). Trained, L1 drives many weights to exactly zero; L2 shrinks them all.
`model("l2")` builds the other variant; `graphc` itself calls `model()`, the L1 one.
"""

import graphc as gc
from graphc.datasets import digits

PENALTIES = {"l1": gc.l1, "l2": gc.l2}


def model(penalty: str = "l1", strength: float = 1e-3):
    """(loss, logits) of a linear softmax classifier with an L1 or L2 weight penalty."""
    x = gc.input("x", (None, 64))
    y = gc.input("y", (None,), "int64")
    W = gc.param("W", (64, 10), init="xavier_uniform")
    b = gc.param("b", (10,))
    logits = gc.named(x @ W + b, "logits")
    fit = gc.softmax_cross_entropy(logits, y)
    loss = gc.named(fit + strength * PENALTIES[penalty](W), "loss")
    return loss, logits


def data():
    """Digits, a quarter held out for validation."""
    return digits()
