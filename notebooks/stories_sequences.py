"""The cells of notebook 8: the adding problem, backpropagation through time, and why an
LSTM's gradient survives 50 steps where a tanh RNN's does not."""

from cells import SETUP, code, md

SEQUENCES = [
    md("""
# 8. Sequences: the gradient through time

**The adding problem** (Hochreiter & Schmidhuber, 1997): a sequence of $T = 50$ pairs
(value, marker), the values uniform in $[0, 1]$, exactly two of them marked (one in each
half). The target is the sum of the two marked values. Always answering the mean scores a
mean squared error of $1/6 \\approx 0.167$ (the variance of a sum of two uniform values), so
an error well below that means the network found the marked values, the first of which may
lie 49 steps before the answer.
"""),
    code(
        SETUP
        + """
import matplotlib.pyplot as plt
from graphc.modelfile import import_model_file
from graphc.trainer import compile_trainer, train

adding = import_model_file("../examples/adding_lstm.py")
data = adding.data(2_000, 500, steps=50)        # seeded: 2,000 sequences to train, 500 held out
x, y = data["train"]["x"][0], data["train"]["y"][0]
fig, ax = plt.subplots(figsize=(8, 2.5))
ax.bar(np.arange(1, 51), x[:, 0], color=np.where(x[:, 1] == 1, "tab:red", "lightgray"))
ax.set(xlabel="step t", ylabel="value",
       title=f"one sequence: the marked values (red) add up to {y[0]:.3f}");
"""
    ),
    md("""
## The unrolled network

`gc.unroll(cell, xs, h0)` applies one cell per time step, each step in its own scope, so the
graph *is* the unrolled network of the lecture. Collapsed, each step is one box; the same
weights `w_ih`, `w_hh`, `b` feed every step, and backpropagation through time adds their
gradients from all steps. (Fifty steps are more than a picture holds, so this is the 8-step
version `model()` gives the command-line tools.)
"""),
    code("""
short, _ = adding.model("lstm")
visual.render(short, collapse=True, title="an LSTM unrolled over 8 steps, one box per step")
"""),
    md("""
## How much gradient reaches each step

The gradient that reaches step $t$ is the gradient at the last step multiplied by one
Jacobian $\\partial h_{s+1} / \\partial h_s$ per step in between. For a tanh RNN each factor
is $\\mathrm{diag}(1 - h_{s+1}^2)\\,W_{hh}$: when these shrink vectors, the product vanishes
geometrically. `visual.gradient_through_time` plots $\\lVert \\partial L / \\partial h_t
\\rVert$ against $t$, computed from the graph (`gc.grad` of the loss with respect to every
hidden state, evaluated on 256 sequences). First both networks as initialized, 16 units
each:
"""),
    code("""
nets = {cell: adding.network(cell, hidden=16) for cell in ("rnn", "lstm")}  # loss, prediction, h
probe = {k: v[:256] for k, v in data["train"].items()}
names = {"rnn": "tanh RNN", "lstm": "LSTM"}
untrained = {f"{names[c]}, untrained": (loss, h, gc.init_params(loss, seed=0) | probe)
             for c, (loss, _, h) in nets.items()}
visual.gradient_through_time(untrained, title="before training")
"""),
    md("""
At initialization both gradients fade, the LSTM's even more: its forget gate starts at
$\\sigma(1) \\approx 0.73$, and the cell state's gradient is multiplied by it at every step.
Now train both the same way (Adam, learning rate 0.02, batch 32, 10 epochs) with the
exported NumPy trainer:
"""),
    code("""
held_out, mean = data["validation"]["y"], data["train"]["y"].mean()
mean_guess = float(np.mean((held_out - mean) ** 2))  # 1/6 in expectation
print(f"always answering the training mean: held-out mean squared error {mean_guess:.4f}")
results = {}
for cell, (loss, prediction, _) in nets.items():
    trainer = compile_trainer(loss, "adam", predictions=prediction)
    results[cell] = train(trainer, data, epochs=10, batch_size=32, lr=0.02)
    print(f"{names[cell]:>34}: held-out mean squared error {results[cell].final('val_loss'):.4f}")
fig, ax = plt.subplots(figsize=(7, 3.5))
for cell, result in results.items():
    ax.plot(result.history["epoch"], result.history["val_loss"], marker="o", label=names[cell])
ax.axhline(mean_guess, color="gray", linestyle=":", label="always the mean")
ax.set(xlabel="epoch", ylabel="held-out MSE", yscale="log", title="the adding problem, T = 50")
ax.legend();
"""),
    md("""
The tanh RNN stays at the error of answering the mean; the LSTM leaves that plateau after
six epochs. Its
gradient through time after training:
"""),
    code("""
trained = {f"{names[c]}, trained": (loss, h, dict(results[c].params) | probe)
           for c, (loss, _, h) in nets.items()}
visual.gradient_through_time(trained, title="after training")
"""),
    md("""
**Reading the picture.** After training the tanh RNN's gradient at the first step is about
$10^{-9}$ of the last step's: whatever the first marked value contributes to the loss, the
weights hardly hear of it, and the network settles for the mean. The LSTM's falls by about
one order of magnitude over the 50 steps. Its cell state is updated additively,
$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$, so the factor on the cell state's path is the
forget gate, $\\partial c_t / \\partial c_{t-1} = \\mathrm{diag}(f_t)$, with no weight matrix
and no tanh derivative in it: the gates the network learns decide how far back the gradient
reaches.

The same network at full size (32 units, 4,000 sequences, learning rate 0.01, batch 64)
trained for 10 epochs by the script `gc.export` writes, in `tests/test_adding.py`: the LSTM
ends at a held-out error of 0.0016 and the tanh RNN at 0.168, with
$\\lVert \\partial L / \\partial h_1 \\rVert / \\lVert \\partial L / \\partial h_{50} \\rVert$
= 0.19 against 5e-7. `python examples/adding_lstm.py` trains both for 30 epochs and draws
these pictures at that size.
"""),
]
