"""Sound: a 1-D convolutional network tells four bands of tone frequencies apart.

Each signal is 128 samples of one sine tone (frequency drawn inside one of four octave-spaced
bands, random amplitude and phase) buried in white noise (graphc.datasets.tones). The phase
is random, so no single weighting of the samples finds the band: the convolutions learn
filters that answer to a band wherever the wave sits, ReLU rectifies them, max pooling keeps
the strongest response of each stretch, and a dense layer reads out the band. Signals are
(N, C, L) and weights (out, in, k), as in PyTorch's conv1d.

graphc's max pooling is 2-d; `max_pool1d` below pools a (N, C, L) signal as a (N, C, 1, L)
image with a 1 x k window, which is torch.nn.functional.max_pool1d(h, k) to the bit (the
gradient goes to each window's first maximum, as PyTorch's does).

Trained by its exported NumPy script with Adam (lr 0.01, batch 32, 20 epochs) it reaches
98.0-100 % on the held-out quarter (data and init seeds 0-3; tests/test_tones.py trains it):

    graphc render examples/tones_conv1d.py -o tones.svg --collapse
    graphc export examples/tones_conv1d.py -o train_tones.py --optimizer adam --lr 0.01 \
        --batch-size 32 --epochs 20
"""

import graphc as gc
from graphc.datasets import tones

LENGTH = 128  # samples per signal (16 ms at an 8 kHz sample rate)


def max_pool1d(h, kernel: int, name: str = "pool"):
    """torch.nn.functional.max_pool1d(h, kernel) on (N, C, L), as a 1 x kernel max_pool2d;
    its three nodes under scope `name`, one box in `graphc render --collapse`."""
    _, channels, length = h.shape
    with gc.scope(name):
        pooled = gc.max_pool2d(gc.reshape(h, (-1, channels, 1, length)), (1, kernel))
        return gc.named(gc.reshape(pooled, (-1, channels, length // kernel)), name)


def model(channels: tuple[int, int] = (8, 16), kernel: int = 9, l2: float = 1e-4):
    """(loss, logits): conv, pool, conv, pool, dense; the loss first, the logits for accuracy."""
    x = gc.input("x", (None, 1, LENGTH))  # one channel (mono) of LENGTH samples per signal
    y = gc.input("y", (None,), "int64")  # the band, 0..3
    h = max_pool1d(gc.conv(x, channels[0], kernel, activation="relu"), 4, "pool1")  # (N, 8, 32)
    h = max_pool1d(gc.conv(h, channels[1], kernel, activation="relu"), 4, "pool2")  # (N, 16, 8)
    logits = gc.dense(gc.flatten(h), 4, name="logits")
    W1, W2, W3 = (p for p in gc.params(logits) if p.name.endswith(".W"))
    penalty = gc.named(l2 * (gc.l2(W1) + gc.l2(W2) + gc.l2(W3)), "penalty")
    data_loss = gc.named(gc.softmax_cross_entropy(logits, y), "data_loss")
    return gc.named(data_loss + penalty, "loss"), logits


def data():
    """1,200 noisy tones (900 to train on, 300 held out, 75 of each band), seed 0."""
    return tones(length=LENGTH)
