"""The cells of the five notebooks, as text: `make_notebooks.py` turns them into .ipynb.

Each notebook tells one story with pictures and runs in a few seconds (the tests run all
of them). The kernel's folder is notebooks/, so example model files are `../examples/...`.
"""

SETUP = """%matplotlib inline
import numpy as np
import graphc as gc
import visual"""


def md(text: str) -> tuple[str, str]:
    """A markdown cell."""
    return "md", text.strip()


def code(source: str) -> tuple[str, str]:
    """A code cell."""
    return "code", source.strip()


PRELU_NET = """
x = gc.input("x", (None, 4))                  # a batch of rows with 4 features
y = gc.input("y", (None,), dtype="int64")     # their class ids
W = gc.param("W", (4, 3), init="he_normal")
b = gc.param("b", (3,))
alpha = gc.param("alpha", (3,), init=0.25)    # PReLU's slope, one per unit, learned
z = gc.named(x @ W + b, "z")
h = gc.named(gc.prelu(z, alpha), "h")         # z where z > 0, alpha * z elsewhere
data_loss = gc.named(gc.softmax_cross_entropy(h, y), "data_loss")
penalty = gc.named(0.01 * gc.l2(W), "penalty")   # lambda * ||W||^2
loss = gc.named(data_loss + penalty, "loss")

rng = np.random.default_rng(0)
values = gc.init_params(loss) | {"x": rng.normal(size=(5, 4)), "y": np.array([0, 1, 2, 1, 0])}
"""

PRELU_GRAPH = [
    md("""
# 1. The lecture's network as a graph, forward and backward

One dense layer, a PReLU activation whose negative slope `alpha` is learned per unit, softmax
cross-entropy, and an L2 penalty on the weights:

$$L = \\mathrm{CE}(\\mathrm{softmax}(\\mathrm{prelu}(xW + b, \\alpha)), y)
    + \\lambda \\lVert W \\rVert^2$$

In graphc the model *is* a graph: every line below adds nodes, nothing is computed yet.
"""),
    code(SETUP + "\n" + PRELU_NET),
    code("visual.render(loss)"),
    md("""
**Reading the picture.** Inputs are blue, params yellow, ops white, the loss has a double
border; each edge carries the shape flowing along it (`N` is the batch). The regularizer is a
branch of its own from `W` straight to the loss, so its gradient, $2\\lambda W$, simply adds
to the gradient that comes back through the data term.

Now feed five rows and let every node show its value (blue) and the gradient of the loss
with respect to it (red); edges are coloured by the size of the gradient flowing back.
"""),
    code("""
print("loss =", gc.evaluate(loss, values))
visual.render(loss, values, grads=True, title="values (blue) and gradients (red) on 5 rows")
"""),
    md("""
## Backward: reverse mode builds more graph

`gc.grad` does not compute numbers: it walks the graph from the loss back to the params and
applies each op's local rule, producing new nodes. The gradient is a graph like any other, so
it can be drawn, evaluated, differentiated again or exported as NumPy code.
"""),
    code("""
grads = gc.grad(loss, [W, b, alpha])
visual.render_backward(loss, [W, b, alpha], title="reverse mode: the gradient graph")
"""),
    md("""
graphc draws the gradient graph after its own passes have tidied it (`gc.optimize`): the
`softmax - onehot` node is the lecture's $p - y$, and `prelu'(x)` is PReLU's local rule.
`raw=True` shows the tape exactly as reverse mode built it, broadcasts and all.

## Backprop gate by gate

The gate view draws the forward graph with the three numbers of the chain rule at every gate:
the **upstream** gradient $\\partial L/\\partial \\text{out}$ arriving from above, the
**local** derivative of each input (its rule, and its numbers where the gate is elementwise),
and on each input's wire the **downstream** gradient, upstream × local. The softmax
cross-entropy and the L2 penalty are one box each (`expand=True` opens them). Hover a node for
its full arrays.
"""),
    code("""
visual.render_backprop(loss, values, title="backprop at every gate, on 5 rows")
"""),
    md("""
`visual.step_through` writes the same thing as a page to step through, one gate at a time
(→ and ← keys; `#frame=N` in the address opens frame N). `graphc explain MODEL -o page.html`
does it from the command line.
"""),
    code("""
import os, tempfile
page = visual.step_through(loss, values, os.path.join(tempfile.mkdtemp(), "backprop.html"))
print("open in a browser:", page)
"""),
    md("""
The `where` nodes of the raw tape are PReLU's local rule at work. SymPy derives it from the op's own
definition and checks it against the rule graphc registered:
"""),
    code('gc.local_rule("prelu")'),
    md("""
Two checks by hand: the penalty's gradient is $2\\lambda W$, and the slope `alpha` only gets
gradient from units whose pre-activation `z` is negative.
"""),
    code("""
g_penalty = gc.evaluate(gc.grad(penalty, W), values)
print("d penalty / dW == 2 * 0.01 * W:", np.allclose(g_penalty, 2 * 0.01 * values["W"]))
z_value, g_alpha = gc.evaluate([z, grads[2]], values)
print("units with some z < 0:", (z_value < 0).any(axis=0))
print("d loss / d alpha:     ", g_alpha)
"""),
    md("""
Forward and backward side by side: each backward node sits on the row of the forward node it
came from (dotted ties), so backpropagation reads bottom-up next to the forward pass.
"""),
    code('visual.render_combined(loss, [W, b, alpha], title="forward | backward")'),
]

FOUR_WAYS = [
    md("""
# 2. Four ways to differentiate

* **symbolic**: turn the graph into a SymPy expression and let `sympy.diff` do calculus;
* **numeric**: finite differences, $(f(w + \\epsilon) - f(w - \\epsilon)) / 2\\epsilon$, two
  evaluations per parameter;
* **forward mode**: push a tangent through the graph, one pass per parameter;
* **reverse mode** (backpropagation): pull a cotangent back, one pass for all parameters.

All four on the lecture's network at blackboard size:
"""),
    code(SETUP + "\n" + PRELU_NET + "\ngc.compare(loss, [W, b, alpha], values)"),
    md("""
Forward, reverse and symbolic agree to the last bits of float64; the numeric gradient is off
by about $10^{-10}$. Where does that error come from? Sweep the step $\\epsilon$: to the right
the *truncation* error of the formula grows like $\\epsilon$ (forward differences) or
$\\epsilon^2$ (central); to the left *round-off* grows like $\\varepsilon_{mach}/\\epsilon$.
The best step sits at the bottom of the V.
"""),
    code("""
sweep = gc.eps_sweep(loss, [W], values)
visual.plot_eps_sweep(sweep, title="numeric gradient error against the step")
"""),
    md("""
## The cost of forward mode

Forward mode needs one pass per parameter; reverse mode needs one backward pass whatever the
number of parameters. Growing a dense layer shows the difference:
"""),
    code("""
cost = gc.forward_cost(sizes=(2, 4, 8, 16, 32))
print("parameters:   ", cost["n_params"])
print("forward passes:", cost["forward_evals"])
print("reverse passes:", cost["reverse_evals"])
visual.plot_forward_cost(cost)
"""),
    md("""
## Symbolic expression swell

A symbolic derivative is a formula, and formulas repeat themselves: the derivative of
`tanh(W2 tanh(W1 x))` contains the inner `tanh` several times, and each layer multiplies the
copies. Common-subexpression elimination (`sympy.cse`) is what keeps it manageable; it is the
same sharing a computational graph has from the start.
"""),
    code("""
from graphc.diff.studies import tanh_chain

chain, _ = tanh_chain(2, width=1)
W1 = next(p for p in gc.params(chain) if p.name == "W1")
print("f      =", gc.to_sympy(chain, shapes={"x": (1, 1)}))
print("df/dW1 =", gc.to_sympy(gc.grad(chain, W1), shapes={"x": (1, 1)})[0, 0])
"""),
    code("""
swell = gc.swell_study(depths=(1, 2, 3, 4, 5))
print(swell)
visual.plot_swell(swell, title="size of the symbolic derivative of a tanh chain")
"""),
]

EXPORT_TRAIN = [
    md("""
# 3. Exporting and training, and reading the curves

`gc.export` lowers the loss, its reverse-mode gradient and an optimizer update into one plain
NumPy file: no graphc needed to run it. With `style="readable"` the file is written to be
read: the forward pass one line per node of the graph, the backward pass one line per
gradient with its chain-rule step, and the optimizer's update as its formula (the default,
`style="fast"`, computes the same numbers with reused buffers and fused kernels; it is what
`graphc train` runs). We export the lecture's network (the model file
`examples/prelu_l2.py`), read it, and train it on scikit-learn's bundled 8x8 digits.
"""),
    code(
        SETUP
        + """
import os
import tempfile
from graphc.modelfile import load_model
from graphc.progress import ProgressBar
from graphc.trainer import compile_trainer, import_trainer, train

model = load_model("../examples/prelu_l2.py")   # (loss, logits) and the digits splits
loss, logits = model.outputs
print({split: len(arrays["y"]) for split, arrays in model.data.items()}, "digits")
path = gc.export(loss, os.path.join(tempfile.mkdtemp(), "train_prelu.py"), "adam", lr=0.01,
                 predictions=logits, style="readable")
source = open(path).read()
model_code = source[source.index("def model("):]
print(model_code[:model_code.index("\\n\\n\\nMODEL_NAME")])
"""
    ),
    md("""
That is the whole model: read the backward pass from the loss down. Each line is one step
of the chain rule, `dL/dv = dL/du * du/dv` summed over the nodes u that use v (the comment
says which), and where a value was broadcast forward (the bias `b` over the batch) its
gradient is summed back. `update` is Adam as a formula. Import the file and train it:
"""),
    code("""
trainer = import_trainer(path)
result = train(trainer, model.data, epochs=20, progress=ProgressBar(20))
result   # shows its learning curves and final metrics; result.history is a dict of lists
"""),
    md("""
## Reading learning curves

* **good fit**: training and validation loss fall together and end close;
* **overfitting**: the training loss keeps falling while the validation loss stops falling
  or rises: the gap between them is what the model memorised;
* **underfitting**: no gap, but both losses stay high: the model is too small or has not
  trained long enough.

`visual.diagnose` reads a history that way; `plot_history` writes its reading on the plot.
"""),
    code("""
reading = visual.diagnose(result.history)
print(f"{reading.kind}: {reading.text}")
"""),
    md("""
**Overfitting on purpose:** a wide hidden layer (128 units, about 9,600 parameters) trained
on only 100 digits. The training loss goes to almost zero; the validation loss bottoms out and
turns up.
"""),
    code("""
from graphc.modelfile import import_model_file

mlp = import_model_file("../examples/dropout.py")      # model(rate, hidden)
few = {"train": {k: v[:100] for k, v in model.data["train"].items()},
       "validation": model.data["validation"]}
wide, wide_logits = mlp.model(rate=0.0, hidden=128)
overfit = train(compile_trainer(wide, "adam", predictions=wide_logits, lr=0.01), few, 60)
visual.plot_history(overfit.history, title="128 hidden units, 100 training digits")
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
from graphc.modelfile import import_model_file
from graphc.trainer import compile_trainer, train

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

BATCHNORM_DROPOUT = [
    md("""
# 4. Batch norm and dropout: one graph, two modes

Both layers behave differently while training and at inference. graphc keeps one graph with
a `select_mode` node (drawn `train | eval`) and resolves it with `gc.specialize` before
anything runs.

## Batch normalization

In training, normalize each feature with the batch's mean and variance, then scale by
`gamma` and shift by `beta`; also update running averages of the statistics. At inference,
use the running averages, so one example's output does not depend on the rest of its batch.
"""),
    code(
        SETUP
        + """
x = gc.input("x", (None, 3))
gamma = gc.param("gamma", (3,), init=1.0)
beta = gc.param("beta", (3,))
out = gc.named(gc.batch_norm(x, gamma, beta, momentum=0.9), "out")
visual.render(out, title="batch norm: both modes in one graph")
"""
    ),
    code("""
train_graph = gc.specialize(out, training=True)[0]
infer_graph = gc.specialize(out, training=False)[0]
print(len(gc.topological_order(train_graph)), "nodes in training mode,",
      len(gc.topological_order(infer_graph)), "at inference")
visual.render(infer_graph, title="inference: running statistics only")
"""),
    md("""
Feed a batch whose features have means 5, -3, 0 and spreads 2, 1, 10. Training mode
normalizes it; inference mode, with fresh running statistics (mean 0, variance 1), passes it
almost unchanged, and one training step moves the running mean 10% of the way to the batch's
mean (momentum 0.9).
"""),
    code("""
rng = np.random.default_rng(0)
batch = rng.normal([5.0, -3.0, 0.0], [2.0, 1.0, 10.0], size=(64, 3))
values = gc.init_params(out) | {"x": batch}
updates = {}
trained = gc.evaluate(out, values, training=True, updates=updates)
inferred = gc.evaluate(out, values, training=False)
print("training mode:  mean", trained.mean(0).round(3), " std", trained.std(0).round(3))
print("inference mode: mean", inferred.mean(0).round(3), " std", inferred.std(0).round(3))
print("running mean after one step:", updates["gamma.running_mean"].round(3))
"""),
    md("""
With numbers on, a picture shows only the branch its mode runs. Side by side: in training the
gradient flows through the batch statistics and none reaches the running statistics; at
inference the running statistics feed the output and the batch statistics are not computed.
"""),
    code("""
energy = gc.named(gc.sum(out * out), "energy")   # a scalar to differentiate
both = dict(grads=True, expand=True, edge_labels=False)
visual.side_by_side(
    visual.render(energy, values, training=True, title="training", **both),
    visual.render(energy, values, training=False, title="inference", **both),
)
"""),
    md("""
In a network, batch norm goes between the dense layer and the activation
(`examples/batchnorm.py`); the `train | eval` node shows where the two modes part:
"""),
    code("""
from graphc.modelfile import load_model

bn = load_model("../examples/batchnorm.py")
visual.render(bn.loss, edge_labels=False, title="dense -> batch norm -> ReLU -> dense")
"""),
    md("""
## Dropout

In training, each unit is zeroed with probability `rate` and the survivors are scaled by
$1/(1 - \\text{rate})$ ("inverted dropout"), so the expected value is unchanged and inference
is simply the identity.
"""),
    code("""
h = gc.input("h", (None, 8))
dropped = gc.dropout(h, 0.5, seed=1)
ones = {"h": np.ones((4, 8))}
print("training:\\n", gc.evaluate(dropped, ones, training=True))
print("inference:\\n", gc.evaluate(dropped, ones, training=False))
big = gc.dropout(gc.input("h", (None, 1000)), 0.5, seed=2)
print("mean over 100,000 units in training:",
      gc.evaluate(big, {"h": np.ones((100, 1000))}, training=True).mean().round(3))
"""),
    md("""
The two modes of dropout side by side: in training the mask multiplies the units (and their
gradients: a dropped unit passes none back); at inference dropout is the identity.
"""),
    code("""
net = gc.sum(gc.dropout(h * gc.param("w", (8,), init=1.0), 0.5, seed=1))
on = {"h": np.ones((2, 8)), "w": np.ones(8)}
visual.side_by_side(
    visual.render(net, on, grads=True, training=True, expand=True, title="training"),
    visual.render(net, on, grads=True, training=False, expand=True, title="inference"),
)
"""),
    md("""
Dropout's noise makes memorising harder. The wide network of notebook 3, trained on 100
digits with and without dropout: with dropout the training loss stays higher (the noise) and
the gap to the validation loss is smaller.
"""),
    code("""
import matplotlib.pyplot as plt
from graphc.modelfile import import_model_file
from graphc.trainer import compile_trainer, train

mlp = import_model_file("../examples/dropout.py")
few = {"train": {k: v[:100] for k, v in bn.data["train"].items()},
       "validation": bn.data["validation"]}
fig, ax = plt.subplots(figsize=(7, 4))
for rate, color in ((0.0, "tab:blue"), (0.5, "tab:orange")):
    loss, logits = mlp.model(rate=rate, hidden=128)
    history = train(compile_trainer(loss, "adam", predictions=logits, lr=0.01), few, 60).history
    ax.plot(history["epoch"], history["loss"], "--", color=color, label=f"training, rate {rate}")
    ax.plot(history["epoch"], history["val_loss"], color=color, label=f"validation, rate {rate}")
    print(f"rate {rate}: {visual.diagnose(history).text}")
ax.set(xlabel="epoch", ylabel="loss", yscale="log", title="dropout on 100 training digits")
ax.legend();
"""),
    md("""
## Test time: the ensemble, estimated by Monte Carlo

Training with dropout trains an ensemble: every mask is a thinned network, and all of them
share the weights. At test time we want the ensemble's average prediction. Monte Carlo
estimates it: run the network many times with fresh masks and average
(`gc.mc_predict(outputs, values, samples)`, batch norm stays in inference mode). For a network
that is linear after its dropout layer, like `examples/dropout.py` (logits = h @ W2 + b2),
the average is exactly one pass with every unit on: inverted dropout already scaled the
survivors by 1 / (1 - rate). So the Monte Carlo estimate converges to the ordinary inference
pass, its error falling like 1 / sqrt(samples).
"""),
    code("""
import matplotlib.pyplot as plt
from graphc.modelfile import import_model_file
from graphc.trainer import compile_trainer, train

drop = import_model_file("../examples/dropout.py")
drop_loss, drop_logits = drop.model(rate=0.3)
digits_data = drop.data()
trained = train(compile_trainer(drop_loss, "adam", predictions=drop_logits, lr=0.01),
                digits_data, 20)
values = trained.params | {"x": digits_data["validation"]["x"]}
single_pass = gc.evaluate(drop_logits, values)   # every unit on
counts = [1, 4, 16, 64, 256, 1024]
errors = []
for samples in counts:
    mean, std = gc.mc_predict(drop_logits, values, samples=samples, seed=0)
    errors.append(np.sqrt(np.mean((mean - single_pass) ** 2)))
    print(f"{samples:>5} samples: RMS distance to the single pass {errors[-1]:.4f}")
slope = np.polyfit(np.log(counts), np.log(errors), 1)[0]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.loglog(counts, errors, "o-", label=f"Monte Carlo (slope {slope:.2f})")
ax.loglog(counts, errors[0] / np.sqrt(counts), "--", color="gray", label="1 / sqrt(samples)")
ax.set(xlabel="samples", ylabel="RMS error of the logits",
       title="the Monte Carlo mean converges to the single pass")
ax.legend();
"""),
    md("""
The spread of the samples measures how unsure the network is: where the thinned networks
disagree, the prediction is fragile. Average the class probabilities and look at the
spread of the predicted class's probability: the digits it is least sure of are the ones
it gets wrong most often.
"""),
    code("""
probabilities = gc.softmax(drop_logits)
mean_p, std_p = gc.mc_predict(probabilities, values, samples=200, seed=1)
predicted = mean_p.argmax(axis=1)
spread = std_p[np.arange(len(predicted)), predicted]
correct = predicted == digits_data["validation"]["y"]
unsure = spread >= np.quantile(spread, 0.9)
print(f"accuracy on the 10% most uncertain digits: {correct[unsure].mean():.1%}")
print(f"accuracy on the other 90%:                 {correct[~unsure].mean():.1%}")
"""),
]

SATURATION = [
    md("""
# 5. Activation saturation

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

NOTEBOOKS = {
    "1_prelu_graph": PRELU_GRAPH,
    "2_four_ways": FOUR_WAYS,
    "3_export_and_train": EXPORT_TRAIN,
    "4_batchnorm_dropout": BATCHNORM_DROPOUT,
    "5_saturation": SATURATION,
}
