"""The catalogue of issue 21's bad inputs, part three: the convolution, pooling and sequence
ops and the data sets get the same audit. Each case asserts the error's class and its exact
words, and that it names the line of this file where the node was built (the user's line)."""

import numpy as np
import pytest

import graphc as gc
from graphc import datasets
from graphc.limits import using

HERE = r"test_catalogue_ops\.py:\d+: "
im = gc.input("im", (None, 3, 8, 8))
W = gc.param("Wc", (4, 3, 3, 3))
q, k, v = gc.input("q", (None, 6, 8)), gc.input("k", (None, 7, 8)), gc.input("v", (None, 7, 5))
xs, h0 = gc.input("xs", (None, 5, 3)), gc.input("h0", (None, 4))
xt = gc.input("xt", (None, 3))


def _rnn(x, h):
    return gc.rnn_cell(x, h, gc.param("wi", (4, 3)), gc.param("wh", (4, 4)))


BUILD = [
    # (case, build, error class, words after "file:line: ")
    (
        "kernel larger than the padded input",
        lambda: gc.conv2d(im, gc.param("K", (4, 3, 11, 11)), padding=1),
        gc.ShapeError,
        r"conv2d: the kernel 11×11 \(dilation 1×1\) spans 11, more than the padded input's 10 "
        r"along an axis of size 8",
    ),
    (
        "channels not matching the weights",
        lambda: gc.conv2d(im, gc.param("K", (4, 2, 3, 3))),
        gc.ShapeError,
        r"conv2d: the input has 3 channels, but weights \(4, 2, 3, 3\) with groups=1 take 2",
    ),
    (
        "groups not dividing the channels",
        lambda: gc.conv2d(im, gc.param("K", (4, 1, 3, 3)), groups=2),
        gc.ShapeError,
        r"conv2d: groups=2 must divide the 3 input channels and the 4 output channels",
    ),
    (
        "groups=True",
        lambda: gc.conv2d(im, W, groups=True),
        gc.ShapeError,
        r"conv2d: groups must be a positive int, got True",
    ),
    (
        "(N, H, W) images without a channel axis",
        lambda: gc.conv2d(gc.input("i3", (None, 8, 8)), W),
        gc.ShapeError,
        r"conv2d: the input must be \(N, C, H, W\), got shape \(None, 8, 8\) \(3 axes\); an input "
        r"without its channel axis needs one: reshape it to \(N, 1, H, W\)",
    ),
    ("stride 0", lambda: gc.conv2d(im, W, stride=0), gc.ShapeError, r"conv2d: stride must be a "),
    (
        "stride -1",
        lambda: gc.conv2d(im, W, stride=-1),
        gc.ShapeError,
        r"conv2d: stride must be a positive int or 2 of them, got -1",
    ),
    (
        "stride 1.5",
        lambda: gc.conv2d(im, W, stride=1.5),
        gc.ShapeError,
        r"conv2d: stride must be a positive int or 2 of them, got 1\.5",
    ),
    (
        "padding None",
        lambda: gc.conv2d(im, W, padding=None),
        gc.ShapeError,
        r"conv2d: padding must be a non-negative int or 2 of them, got None",
    ),
    (
        "padding 'same' with stride 2",
        lambda: gc.conv2d(im, W, padding="same", stride=2),
        gc.ShapeError,
        r"conv2d: padding='same' needs stride 1",
    ),
    (
        "a bias of the wrong size",
        lambda: gc.conv2d(im, W, gc.param("cb", (3,))),
        gc.ShapeError,
        r"conv2d: the bias must have shape \(4,\), got \(3,\)",
    ),
    (
        "conv1d of (N, L) signals",
        lambda: gc.conv1d(gc.input("s2", (None, 16)), gc.param("K1", (4, 1, 3))),
        gc.ShapeError,
        r"conv1d: the input must be \(N, C, L\), got shape \(None, 16\) \(2 axes\); .*\(N, 1, L\)",
    ),
    (
        "max pooling padding above half the kernel",
        lambda: gc.max_pool2d(im, 2, padding=2),
        gc.ShapeError,
        r"max_pool2d: the padding \(\(2, 2\), \(2, 2\)\) may be at most half the ",
    ),
    (
        "pooling kernel 'a'",
        lambda: gc.avg_pool2d(im, "a"),
        gc.ShapeError,
        r"avg_pool2d: kernel must be a positive int or 2 of them, got 'a'",
    ),
    (
        "flatten from axis 9 of 4",
        lambda: gc.flatten(im, start=9),
        gc.ShapeError,
        r"flatten: axis 9 is out of range for a 4-d input",
    ),
    (
        "flatten start=True",
        lambda: gc.flatten(im, start=True),
        gc.ShapeError,
        r"flatten: start must be an int \(an axis\), got True",
    ),
    (
        "mismatched hidden sizes",
        lambda: gc.rnn_cell(xt, h0, gc.param("wi", (4, 3)), gc.param("wh", (5, 5))),
        gc.ShapeError,
        r"rnn_cell: w_hh has shape \(5, 5\), expected \(4, 4\) for input size 3 and hidden "
        r"size 4",
    ),
    (
        "an LSTM cell state unlike its hidden state",
        lambda: gc.lstm_cell(
            xt, (h0, gc.input("c0", (None, 5))), gc.param("wi", (16, 3)), gc.param("wh", (16, 4))
        ),
        gc.ShapeError,
        r"lstm_cell: the cell state \(None, 5\) and the hidden state \(None, 4\) differ",
    ),
    (
        "unroll over a time axis of unknown length",
        lambda: gc.unroll(_rnn, gc.input("xv", (None, None, 3)), h0),
        gc.ShapeError,
        r"unroll over axis 1 of \(None, None, 3\), whose length is unknown \(None\)",
    ),
    (
        "unroll axis=1.0",
        lambda: gc.unroll(_rnn, xs, h0, axis=1.0),
        gc.ShapeError,
        r"unroll: axis must be an int in range for \(None, 5, 3\), got 1\.0",
    ),
    (
        "a cell returning no node",
        lambda: gc.unroll(lambda x, h: "junk", xs, h0),
        gc.GraphError,
        r"unroll: <lambda> returned str 'junk'; a cell returns the next state",
    ),
    (
        "a mask that does not broadcast",
        lambda: gc.attention(q, k, v, mask=np.zeros((3, 7))),
        gc.ShapeError,
        r"attention: the mask of shape \(3, 7\) does not broadcast to the scores \(\.\.\., L, "
        r"S\) = \(None, 6, 7\)",
    ),
    (
        "an integer mask",
        lambda: gc.attention(q, k, v, mask=np.ones((6, 7), int)),
        gc.DtypeError,
        r"attention: the mask must hold booleans \(True where a query may attend\) or floats",
    ),
    (
        "causal='no'",
        lambda: gc.attention(q, k, v, causal="no"),
        gc.GraphError,
        r"attention: causal must be True or False, got 'no'",
    ),
    (
        "scale nan",
        lambda: gc.attention(q, k, v, scale=float("nan")),
        gc.GraphError,
        r"attention: scale must be a finite number, got nan",
    ),
    (
        "float ids in embedding",
        lambda: gc.embedding(gc.input("fi", (None, 5)), gc.param("E", (10, 4))),
        gc.DtypeError,
        r"embedding: the ids must be integers \(gc.input\(\.\.\., dtype='int64'\)\), got float64",
    ),
    (
        "concat of an array",
        lambda: gc.concat(np.ones((2, 3))),
        gc.GraphError,
        r"concat takes a non-empty list of nodes, got a ndarray of shape \(2, 3\)$",
    ),
    ("elu alpha nan", lambda: gc.elu(xt, alpha=float("nan")), gc.GraphError, r"elu: alpha must"),
    (
        "param init nan",
        lambda: gc.param("pn", (2,), init=float("nan")),
        gc.GraphError,
        r"param 'pn': init must be a finite number, got nan",
    ),
]


@pytest.mark.parametrize("case, build, kind, words", BUILD, ids=[c[0] for c in BUILD])
def test_impossible_ops_are_one_error_at_the_users_line(case, build, kind, words):
    with pytest.raises(kind, match=HERE + words) as caught:
        build()
    assert "\n" not in str(caught.value)


# ---- at data entry: ids out of range, images of the wrong size, sizes before allocating --

ids = gc.input("ids", (None, 5), "int64")
bag = gc.sum(gc.embedding(ids, gc.param("E", (10, 4))))
conv = gc.conv2d(im, W)


@pytest.mark.parametrize("target", ["evaluate", "fast", "readable", "jax"])
def test_embedding_ids_out_of_range_are_refused_where_data_enters(target):
    table = np.zeros((10, 4))
    if target == "evaluate":
        run = lambda i: gc.evaluate(bag, {"ids": i, "E": table})  # noqa: E731
    else:
        if target == "jax":
            pytest.importorskip("jax")
        f = gc.lower(bag, ["ids", "E"], target=target)
        run = lambda i: f(i, table)  # noqa: E731
    with pytest.raises(
        gc.ShapeError,
        match=r"'ids' holds the id 10, outside 0\.\.9 \(the model has 10 rows\); the input is "
        r"declared at .*test_catalogue_ops\.py:\d+$",
    ):
        run(np.full((2, 5), 10))
    with pytest.raises(gc.ShapeError, match=r"'ids' holds the id -1, outside 0\.\.9"):
        run(np.full((2, 5), -1))
    assert run(np.full((2, 5), 9)) == 0.0  # the last row is a row


def test_images_of_the_wrong_size_name_the_input_and_its_line():
    values = gc.init_params(conv) | {"im": np.ones((2, 3, 7, 8))}
    words = (
        r"the value for input 'im' has shape \(2, 3, 7, 8\), expected \(None, 3, 8, 8\) "
        r"\(None is the batch dimension\), declared at .*test_catalogue_ops\.py:\d+"
    )
    with pytest.raises(gc.ShapeError, match=words):
        gc.evaluate(conv, values)
    with pytest.raises(gc.ShapeError, match=words):
        gc.lower(conv, ["im", "Wc"])(values["im"], values["Wc"])


def test_a_convolution_too_large_is_refused_before_allocating():
    big = gc.conv2d(gc.input("h", (None, 3, 400, 400)), gc.param("Kh", (64, 3, 3, 3)))
    values = {"h": np.zeros((8, 3, 400, 400)), "Kh": np.zeros((64, 3, 3, 3))}
    with (
        using(array_bytes=2**28),
        pytest.raises(
            MemoryError,
            match=r"conv2d \(made at .*test_catalogue_ops\.py:\d+\) would need a "
            r"\(8, 64, 398, 398\) float64 array of 618\.8 MiB, above the limit of 256\.0 MiB",
        ),
    ):
        gc.evaluate(big, values)


def test_integer_images_give_the_float_convolution():
    """NumPy promotes int64 images with float weights; so does graphc, to the same number."""
    images = np.arange(2 * 3 * 8 * 8).reshape(2, 3, 8, 8) % 5
    weights = np.random.default_rng(0).normal(size=(4, 3, 3, 3))
    as_ints = gc.conv2d(gc.input("ii", (None, 3, 8, 8), "int64"), W)
    got = gc.evaluate(as_ints, {"ii": images, "Wc": weights})
    np.testing.assert_array_equal(got, gc.evaluate(conv, {"im": images * 1.0, "Wc": weights}))


# ---- the data sets ------------------------------------------------------------------------

DATA = [
    ("tones n=10", lambda: datasets.tones(n=10), r"tones: n must be a multiple of 4"),
    (
        "tones length=0",
        lambda: datasets.tones(length=0),
        r"tones: length must be a positive int, got 0",
    ),
    ("tones length=2.5", lambda: datasets.tones(length=2.5), r"tones: length must be a positive"),
    ("tones noise=-1", lambda: datasets.tones(noise=-1), r"tones: noise must be 0 or more"),
    (
        "tones noise=nan",
        lambda: datasets.tones(noise=float("nan")),
        r"tones: noise must be a finite",
    ),
    (
        "tones validation=1.5",
        lambda: datasets.tones(validation=1.5),
        r"tones: validation must be between 0 and 1 \(both excluded\), got 1\.5",
    ),
    (
        "tones validation=0.001",
        lambda: datasets.tones(validation=0.001),
        r"tones: validation=0\.001 holds out 2 of 1200 rows; each split needs at least 4 \(one "
        r"per class\), so use a share from 0\.00333 to 0\.997",
    ),
    ("tones seed='a'", lambda: datasets.tones(seed="a"), r"tones: seed must be a non-negative"),
    (
        "tones of 931 TiB",
        lambda: datasets.tones(n=10**12),
        r"tones: n=1000000000000, length=128 would need a \(1000000000000, 1, 128\) float64 "
        r"array of 931\.3 TiB, above the limit",
    ),
    ("digits images='no'", lambda: datasets.digits(images="no"), r"digits: images must be True"),
    ("digits validation=0", lambda: datasets.digits(validation=0), r"digits: validation must"),
    ("digits seed=-1", lambda: datasets.digits(seed=-1), r"digits: seed must be a non-negative"),
    ("iris validation=1", lambda: datasets.iris(validation=1), r"iris: validation must be"),
    ("moons n=0", lambda: datasets.moons(n=0), r"moons: n must be a positive int, got 0"),
]


@pytest.mark.parametrize("case, load, words", DATA, ids=[c[0] for c in DATA])
def test_data_set_arguments_are_checked_at_the_callers_line(case, load, words):
    with pytest.raises(gc.GraphError, match=HERE + words):
        load()
