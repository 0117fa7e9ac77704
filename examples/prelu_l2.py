"""The lecture's network: one dense layer, PReLU with a learned slope per unit, softmax
cross-entropy, and an L2 penalty on the weights, trained on scikit-learn's digits.

    graphc render examples/prelu_l2.py -o prelu.svg --backward
    graphc train examples/prelu_l2.py --epochs 20
"""

from graphc.datasets import digits
from graphc.demo import lecture_network


def model():
    """(loss, logits): the loss first, the logits for accuracy."""
    return lecture_network(n_in=64, n_classes=10, l2=1e-4)


def data():
    """Digits, 8x8 pixels scaled to [0, 1]; a quarter held out for validation."""
    return digits()
