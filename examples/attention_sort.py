"""Sorting with attention: a one-block transformer reads 8 digits and writes them in
ascending order. Embedding plus learned positions, one head of self-attention (full, or
causal with causal=True), a residual connection and layer norm, a feed-forward layer with
its own residual and layer norm, then per-position logits over the 10 digits, trained with
the cross-entropy of every output token:

    graphc train examples/attention_sort.py --optimizer adam --lr 0.003 --epochs 4
    python examples/attention_sort.py   # trains, prints held-out token accuracy, draws the
                                        # attention weights of one sequence
"""

import numpy as np

import graphc as gc

DIGITS, LENGTH = 10, 8


def sequences(n: int, seed: int = 0) -> dict:
    """n random digit sequences x (n, 8) and the same sorted, y (n, 8), int64."""
    x = np.random.default_rng(seed).integers(0, DIGITS, (n, LENGTH))
    return {"x": x, "y": np.sort(x, axis=1)}


def network(width: int = 64, hidden: int = 128, causal: bool = False, dtype: str = "float64"):
    """(loss, logits (batch, 8, 10), the attention weights (batch, 8, 8))."""

    def param(name, shape, init=None):
        return gc.param(name, shape, init=init, dtype=dtype)

    x = gc.input("x", (None, LENGTH), "int64")
    y = gc.input("y", (None, LENGTH), "int64")
    with gc.scope("embed"):
        table = param("embed.table", (DIGITS, width), "xavier_uniform")
        positions = param("embed.positions", (LENGTH, width), "xavier_uniform")
        h = gc.embedding(x, table) + positions
    with gc.scope("attend"):
        q, k, v = (h @ param(f"attend.W{name}", (width, width), "xavier_uniform") for name in "qkv")
        weights = gc.named(gc.attention_weights(q, k, causal=causal), "attention")
        mixed = gc.matmul(weights, v) @ param("attend.Wo", (width, width), "xavier_uniform")
        h = gc.layer_norm(h + mixed, param("attend.gamma", (width,), 1.0), 0.0)
    with gc.scope("feed_forward"):
        w1 = param("ff.W1", (width, hidden), "he_normal")
        w2 = param("ff.W2", (hidden, width), "xavier_uniform")
        f = gc.relu(h @ w1 + param("ff.b1", (hidden,))) @ w2
        h = gc.layer_norm(h + f, param("ff.gamma", (width,), 1.0), 0.0)
    logits = gc.named(
        h @ param("out.W", (width, DIGITS), "xavier_uniform") + param("out.b", (10,)),
        "logits",
    )
    picked = gc.sum(gc.one_hot(y, DIGITS, dtype) * gc.log_softmax(logits, axis=-1), axis=-1)
    return gc.named(-gc.mean(picked), "loss"), logits, weights


def model():
    """(loss, logits) for `graphc train`."""
    loss, logits, _ = network()
    return loss, logits


def data(train: int = 2_000, held_out: int = 500):
    """Training sequences and held-out ones, seeded (main() trains on 10,000)."""
    return {"train": sequences(train, seed=0), "validation": sequences(held_out, seed=1)}


def token_accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """The share of output tokens whose largest logit is the right digit."""
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def main(epochs: int = 4):
    """Train, print the held-out token accuracy, draw one sequence's attention weights."""
    import time

    import visual
    from graphc.trainer import compile_trainer, train

    loss, logits, weights = network()
    splits = data(10_000, 2_000)
    start = time.perf_counter()
    trainer = compile_trainer(loss, "adam", predictions=logits)
    result = train(trainer, splits, epochs=epochs, batch_size=64, lr=0.003)
    held_out = splits["validation"]
    values = dict(result.params) | held_out
    got_logits, got_weights = gc.evaluate([logits, weights], values)
    print(
        f"{epochs} epochs in {time.perf_counter() - start:.0f} s; held-out token accuracy "
        f"{token_accuracy(got_logits, held_out['y']):.2%}, validation loss "
        f"{result.final('val_loss'):.4f}"
    )
    first = held_out["x"][0]
    figure = visual.attention_map(got_weights[0], queries=range(LENGTH), keys=first)
    visual.save(figure, "attention_sort_weights.png")


if __name__ == "__main__":
    main()
