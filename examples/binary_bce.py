"""Binary classification: logistic regression, sigmoid + binary cross-entropy, on the
breast-cancer data.

BCE(sigmoid(z), t) = -t log sigmoid(z) - (1 - t) log(1 - sigmoid(z)) simplifies to
softplus(z) - t z, which stays finite for any logit z; that is the form
`gc.binary_cross_entropy_with_logits` builds. The probability is `gc.sigmoid(logits)`.
"""

import graphc as gc
from graphc.datasets import breast_cancer


def model():
    """(loss, logits) of logistic regression on 30 features."""
    x = gc.input("x", (None, 30))
    y = gc.input("y", (None, 1))
    w = gc.param("w", (30, 1), init="xavier_normal")
    b = gc.param("b", (1,))
    logits = gc.named(x @ w + b, "logits")
    return gc.named(gc.binary_cross_entropy_with_logits(logits, y), "loss"), logits


def data():
    """569 tumours, 30 standardized features, targets 0 (malignant) / 1 (benign)."""
    return breast_cancer()
