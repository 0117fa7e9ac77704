"""The adding problem (Hochreiter & Schmidhuber, 1997): a sequence of T = 50 (value, marker)
pairs, values uniform in [0, 1], two of them marked (one in each half); predict the sum of
the two marked values. Always predicting 1 scores a mean squared error of 1/6 ≈ 0.167.

A tanh RNN's gradient through time fades by orders of magnitude from the last step back to
the first, so it cannot find the early marked value; an LSTM's cell state carries it
(∂c_t/∂c_{t-1} = f, the forget gate) and it learns the task:

    python examples/adding_lstm.py     # both cells at T = 50: training, the gradient plot

graphc's model-file tools (`graphc train`, `render`, `explain`) read model() and data(),
an 8-step version: a picture of 50 unrolled LSTM steps is more than Graphviz lays out.
"""

import numpy as np

import graphc as gc

STEPS = 50  # the adding problem main() trains on
MODEL_STEPS = 8  # the short version model() and data() give the model-file tools


def adding(n: int, steps: int = STEPS, seed: int = 0) -> dict:
    """n sequences x (n, steps, 2) of (value, marker) and their targets y (n, 1)."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (n, steps))
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, rng.integers(0, steps // 2, n)] = 1.0
    markers[rows, rng.integers(steps // 2, steps, n)] = 1.0
    return {"x": np.stack([values, markers], axis=-1), "y": (values * markers).sum(1)[:, None]}


def network(cell: str = "lstm", hidden: int = 32, steps: int = STEPS, dtype: str = "float64"):
    """(loss, prediction, the hidden states h_1..h_T) of a one-layer `cell` ("lstm" or
    "rnn") reading the sequence, then a linear read-out of the last hidden state."""
    x = gc.input("x", (None, steps, 2), dtype)
    y = gc.input("y", (None, 1), dtype)
    gates = {"lstm": 4, "rnn": 1}[cell]
    w_ih = gc.param("w_ih", (gates * hidden, 2), init="xavier_uniform", dtype=dtype)
    w_hh = gc.param("w_hh", (gates * hidden, hidden), init="xavier_uniform", dtype=dtype)
    # an LSTM's forget gate starts open, σ(1) ≈ 0.73 (Jozefowicz et al., 2015): with σ(0) it
    # would halve the cell state's gradient at every step
    forget = np.zeros(gates * hidden)
    forget[hidden : 2 * hidden] = 1.0 if cell == "lstm" else 0.0
    b = gc.param("b", (gates * hidden,), init=forget, dtype=dtype)
    zeros = gc.const(np.zeros((1, hidden), dtype))
    if cell == "lstm":
        hidden_states, (h, _) = gc.unroll(
            lambda x_t, state: gc.lstm_cell(x_t, state, w_ih, w_hh, b), x, (zeros, zeros)
        )
    else:
        hidden_states, h = gc.unroll(lambda x_t, h: gc.rnn_cell(x_t, h, w_ih, w_hh, b), x, zeros)
    prediction = gc.named(gc.dense(h, 1, name="readout", init="xavier_uniform"), "prediction")
    return gc.named(gc.mse(prediction, y), "loss"), prediction, hidden_states


def model(cell: str = "lstm"):
    """(loss, prediction) of the 8-step version, for graphc's model-file tools."""
    loss, prediction, _ = network(cell, steps=MODEL_STEPS)
    return loss, prediction


def data(train: int = 1_000, held_out: int = 250, steps: int = MODEL_STEPS):
    """Training sequences and held-out ones, seeded (main() trains on 4,000 of 50 steps)."""
    return {
        "train": adding(train, steps, seed=0),
        "validation": adding(held_out, steps, seed=1),
    }


def main(epochs: int = 30):
    """Train both cells on the same data; print the figures; plot the gradient through time
    of both, untrained and trained, to adding_gradient_through_time.png."""
    import time

    import visual
    from graphc.trainer import compile_trainer, train

    splits, runs = data(4_000, 1_000, STEPS), {}
    probe = {k: v[:256] for k, v in splits["train"].items()}
    for cell, label in (("rnn", "tanh RNN"), ("lstm", "LSTM")):
        loss, prediction, hidden_states = network(cell)
        start = time.perf_counter()
        trainer = compile_trainer(loss, "adam", predictions=prediction)
        compiled = time.perf_counter() - start
        result = train(trainer, splits, epochs=epochs, batch_size=64, lr=0.01)
        seconds = time.perf_counter() - start - compiled
        untrained = gc.init_params(loss, seed=0) | probe
        trained = dict(result.params) | probe
        for when, values in (("untrained", untrained), ("trained", trained)):
            norms = visual.gradient_norms_through_time(loss, hidden_states, values)
            runs[f"{label}, {when}"] = (loss, hidden_states, values)
            print(f"{label} {when}: |dL/dh_1| / |dL/dh_T| = {norms[0] / norms[-1]:.2e}")
        print(
            f"{label}: compiled in {compiled:.1f} s, {epochs} epochs in {seconds:.0f} s; "
            f"validation mse {result.final('val_loss'):.4f} (always predicting 1: 0.167)"
        )
    visual.save(visual.gradient_through_time(runs), "adding_gradient_through_time.png")


if __name__ == "__main__":
    main()
