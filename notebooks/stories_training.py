"""Notebooks 6 and 7: reading learning curves (and deeper networks), activation
saturation."""

from cells import SETUP, code, md

CURVES_DEPTH = [
    md("""
# 6. Reading learning curves, and deeper networks

* **good fit**: training and validation loss fall together and end close;
* **overfitting**: the training loss keeps falling while the validation loss stops falling
  or rises: the gap between them is what the model memorised;
* **underfitting**: no gap, but both losses stay high: the model is too small or has not
  trained long enough.

`visual.diagnose` reads a history that way; `plot_history` writes its reading on the plot.
"""),
    code(
        SETUP
        + """
from graphc.modelfile import import_model_file, load_model
from graphc.trainer import compile_trainer, train

model = load_model("../examples/prelu_l2.py")   # the lecture's network, on the digits
loss, logits = model.outputs
result = train(compile_trainer(loss, "adam", predictions=logits, lr=0.01), model.data, 20)
reading = visual.diagnose(result.history)
print(f"{reading.kind}: {reading.text}")
visual.plot_history(result.history, title="the lecture's network, 1,347 training digits")
"""
    ),
    md("""
The dotted line marks the epoch of the lowest validation loss: where to stop training (and
keep the weights) if the curve turned upwards afterwards.
"""),
    md("""
**Overfitting on purpose:** a wide hidden layer (128 units, about 9,600 parameters) trained
on only 100 digits. The training loss goes to almost zero; the validation loss bottoms out and
turns up.
"""),
    code("""
mlp = import_model_file("../examples/dropout.py")      # model(rate, hidden)
few = {"train": {k: v[:100] for k, v in model.data["train"].items()},
       "validation": model.data["validation"]}
wide, wide_logits = mlp.model(rate=0.0, hidden=128)
overfit = train(compile_trainer(wide, "adam", predictions=wide_logits, lr=0.01), few, 60)
visual.plot_history(overfit.history, title="128 hidden units, 100 training digits")
"""),
    md("""
## Does dropout cure it?

Dropout (notebook 5) makes memorising harder: every step trains a different thinned network.
The same wide network with dropout at rate 0.5 after its hidden layer, on the same 100
digits, and then on 400:
"""),
    code("""
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
runs = {}
for ax, rows in zip(axes, (100, 400)):
    some = {"train": {k: v[:rows] for k, v in model.data["train"].items()},
            "validation": model.data["validation"]}
    for rate, color in ((0.0, "tab:blue"), (0.5, "tab:orange")):
        net, net_logits = mlp.model(rate=rate, hidden=128)
        h = train(compile_trainer(net, "adam", predictions=net_logits, lr=0.01), some, 60).history
        runs[rows, rate] = h
        ax.plot(h["epoch"], h["loss"], "--", color=color, label=f"training, rate {rate}")
        ax.plot(h["epoch"], h["val_loss"], color=color, label=f"validation, rate {rate}")
    ax.set(xlabel="epoch", yscale="log", title=f"{rows} training digits")
axes[0].set(ylabel="loss")
axes[0].legend()
for (rows, rate), h in runs.items():
    val = np.array(h["val_loss"])
    print(f"{rows} digits, dropout {rate}: lowest validation loss {val.min():.3f} at epoch "
          f"{val.argmin() + 1}, last {val[-1]:.3f} (its spread over the last 10 epochs "
          f"{val[-10:].std():.3f}), final training loss {h['loss'][-1]:.4f}, validation "
          f"accuracy {max(h['val_accuracy']):.1%} at best, {h['val_accuracy'][-1]:.1%} last")
"""),
    md("""
**What this shows.** On 100 digits dropout does *not* help: its lowest validation loss is no
better than without dropout, and its last one is worse. Three reasons, each in the printed
numbers:

* too few examples: even with half its units dropped, the network still memorises the 100
  digits (its training loss ends far below the validation loss), so dropout only *delays*
  the overfitting: its lowest validation loss comes tens of epochs later;
* dropout makes every step noisy, so its validation loss swings from epoch to epoch (compare
  the spreads over the last 10 epochs): the last epoch is a matter of luck, not a verdict;
* the loss is cross-entropy, which punishes confident mistakes; the accuracies differ by a
  point or two, much less than the losses suggest.

On 400 digits dropout lowers the *lowest* validation loss, as the lecture promises: with
enough examples the thinned networks cannot all memorise the same noise. But its last
epoch is still worse than its best: the gain is collected by stopping at the lowest
validation loss (early stopping, the dotted line of `plot_history`), not by training longer.
"""),
    md("""
**Underfitting on purpose:** squeeze the same network through 2 hidden units. All 1,347
training digits do not help: training and validation loss stay together, and high.
"""),
    code("""
narrow, narrow_logits = mlp.model(rate=0.0, hidden=2)
underfit = train(compile_trainer(narrow, "adam", predictions=narrow_logits, lr=0.01),
                 model.data, 20)
print(visual.diagnose(underfit.history).text)
visual.plot_history(underfit.history, title="2 hidden units")
"""),
    md("""
## Deeper networks

`gc.dense(x, units, activation)` makes one layer (its `W`, `b` and, for PReLU, its slopes)
under its own scope, so a deep network is a loop of one-liners (`examples/deep_mlp.py`) and
draws as one box per layer:
"""),
    code("""
deep = import_model_file("../examples/deep_mlp.py")   # model(depth, width)
loss4, _ = deep.model(depth=4, width=32)
visual.render(loss4, collapse=True, title="4 hidden PReLU layers, one box each")
"""),
    md("""
Deeper = better? Depth 1, 2, 4 and 8, 32 units per layer, the same Adam (learning rate
0.003) for 20 epochs each:
"""),
    code("""
import matplotlib.pyplot as plt

depths = (1, 2, 4, 8)
fig, axes = plt.subplots(1, len(depths), figsize=(13, 3.2), sharey=True)
for ax, depth in zip(axes, depths):
    net, net_logits = deep.model(depth=depth, width=32)
    run = train(compile_trainer(net, "adam", predictions=net_logits, lr=0.003),
                model.data, 20).history
    ax.plot(run["epoch"], run["loss"], label="training")
    ax.plot(run["epoch"], run["val_loss"], label="validation")
    ax.set(title=f"depth {depth}: best val loss {min(run['val_loss']):.3f}",
           xlabel="epoch", yscale="log")
    print(f"depth {depth}: {run.summary()}")
axes[0].set(ylabel="loss")
axes[0].legend();
"""),
    md("""
On the digits, going from one hidden layer to two and four lowers the best validation loss;
at eight layers it stops helping: the data set is small, and every layer more is more to fit
and more to memorise.
"""),
]

SATURATION = [
    md("""
# 7. Activation saturation

Backpropagation multiplies the gradient by each activation's local derivative on the way
back. The sigmoid's derivative is at most 0.25 and nearly 0 for large $|z|$; tanh's reaches
1 at zero. Stack a few layers and the difference compounds.
"""),
    code(
        SETUP
        + """
import matplotlib.pyplot as plt

z = np.linspace(-6, 6, 400)
s = 1 / (1 + np.exp(-z))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].plot(z, s, label="sigmoid"); axes[0].plot(z, np.tanh(z), label="tanh")
axes[1].plot(z, s * (1 - s), label="sigmoid' (max 0.25)")
axes[1].plot(z, 1 - np.tanh(z) ** 2, label="tanh' (max 1)")
for ax, title in zip(axes, ("activation", "local derivative")):
    ax.set_title(title); ax.legend(); ax.grid(alpha=0.3)
"""
    ),
    md("""
`examples/saturation.py` stacks four layers of 16 units on the two-moons data;
`model("sigmoid")` and `model("tanh")` differ only in the activation. Compare how much
gradient reaches each layer's weights:
"""),
    code("""
from graphc.modelfile import import_model_file

sat = import_model_file("../examples/saturation.py")
data = sat.data()
norms = {}
for activation in ("sigmoid", "tanh"):
    loss, _ = sat.model(activation)
    weights = [p for p in gc.params(loss) if p.name.startswith("W")]
    values = gc.init_params(loss) | data["train"]
    grads = gc.evaluate(gc.grad(loss, weights), values)
    norms[activation] = [np.linalg.norm(g) for g in grads]
names = [p.name for p in weights]
fig, ax = plt.subplots(figsize=(7, 3.5))
for i, (activation, n) in enumerate(norms.items()):
    ax.bar(np.arange(len(n)) + 0.4 * i, n, width=0.4, label=activation)
ax.set(xticks=np.arange(len(names)) + 0.2, xticklabels=names, yscale="log",
       ylabel="|d loss / d W|", title="gradient reaching each layer (input side on the left)")
ax.legend()
for activation, n in norms.items():
    print(f"{activation}: the output layer gets {n[-1] / n[0]:.1f}x the first layer's gradient")
"""),
    md("""
Each sigmoid layer passes back at most a quarter of the gradient it receives, so the first
layer learns far more slowly than the output layer; through tanh the gradient arrives at
every layer at about the same size. Drawn with gradients, the sigmoid network's fading edges
show where the signal is lost:
"""),
    code("""
loss, _ = sat.model("sigmoid")
few = gc.init_params(loss) | {k: v[:8] for k, v in data["train"].items()}
visual.render(loss, few, grads=True, collapse=True, title="sigmoid network, each layer a box")
"""),
    md("""
Saturation also happens *inside* a layer: with large weights the pre-activations are large
and units sit on the flat ends of the curve. `gc.saturation` counts the values whose local
derivative is below 0.01. tanh is not immune: with weights eight times the Xavier scale,
most of its units saturate too, which is why initializers scale weights to the layer's size.
"""),
    code("""
for activation in ("sigmoid", "tanh"):
    net, _ = sat.model(activation)
    start = gc.init_params(net) | {k: v[:8] for k, v in data["train"].items()}
    for scale in (1, 8):
        loud = start | {n: start[n] * scale for n in ("W1", "W2", "W3", "W4")}
        report = gc.saturation(net, loud, ops=(activation,))
        print(f"{activation:>7}, weights x{scale}: saturated per layer",
              [f"{layer.saturated:.0%}" for layer in report.layers])
report
"""),
    md("""
What it does to training: the same plain SGD (learning rate 0.1) for 40 epochs. The tanh
network learns the moons; the sigmoid network barely moves from chance.
"""),
    code("""
from graphc.trainer import compile_trainer, train

fig, ax = plt.subplots(figsize=(7, 3.5))
for activation in ("sigmoid", "tanh"):
    loss, logits = sat.model(activation)
    history = train(compile_trainer(loss, "sgd", predictions=logits), data, 40).history
    ax.plot(history["epoch"], history["loss"], label=f"{activation}: final validation "
            f"accuracy {history['val_accuracy'][-1]:.0%}")
ax.set(xlabel="epoch", ylabel="training loss", title="four layers, plain SGD")
ax.legend();
"""),
]
