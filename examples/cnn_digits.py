"""A small convolutional network on the 8x8 digits: two 3x3 convolution layers with ReLU,
each followed by 2x2 max pooling, a dense head to the 10 classes, softmax cross-entropy and
an L2 penalty on the weights (images are NCHW, weights (out, in, kh, kw), as in PyTorch).
Trained by its exported NumPy script with Adam (lr 0.001, batch 64, 40 epochs) it reaches
98.4-99.1 % on the held-out quarter (seeds 0-3; tests/test_cnn.py trains it):

    graphc render examples/cnn_digits.py -o cnn.svg --collapse
    graphc export examples/cnn_digits.py -o train_cnn.py --optimizer adam --lr 0.001 \
        --batch-size 64 --epochs 40
"""

import graphc as gc
from graphc.datasets import digits


def model(channels: tuple[int, int] = (32, 64), l2: float = 3e-4, dtype: str = "float64"):
    """(loss, logits): conv, pool, conv, pool, dense; the loss first, the logits for accuracy."""
    x = gc.input("x", (None, 1, 8, 8), dtype)  # one channel of 8x8 pixels per image
    y = gc.input("y", (None,), "int64")  # the digit, 0..9
    h = gc.max_pool2d(gc.conv(x, channels[0], 3, activation="relu"), 2)  # (N, 32, 4, 4)
    h = gc.max_pool2d(gc.conv(h, channels[1], 3, activation="relu"), 2)  # (N, 64, 2, 2)
    logits = gc.dense(gc.flatten(h), 10, name="logits")
    W1, W2, W3 = (p for p in gc.params(logits) if p.name.endswith(".W"))
    penalty = gc.named(l2 * (gc.l2(W1) + gc.l2(W2) + gc.l2(W3)), "penalty")
    data_loss = gc.named(gc.softmax_cross_entropy(logits, y), "data_loss")
    return gc.named(data_loss + penalty, "loss"), logits


def data():
    """Digits as (N, 1, 8, 8) images in [0, 1]; the same quarter held out as the flat data."""
    return digits(images=True)
