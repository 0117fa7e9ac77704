"""Notebooks 4 and 5: the regularizers L1 and L2, then batch norm and dropout."""

from cells import SETUP, code, md

L1_L2 = [
    md("""
# 4. L1 against L2: sparse against distributed

Both regularizers add a penalty on the weights to the loss, $\\lambda \\lVert W \\rVert_1$
(L1, the sum of $|w|$) or $\\lambda \\lVert W \\rVert_2^2$ (L2, the sum of $w^2$). The
lecture's example: for $x = [1, 1, 1, 1]$, the weights $W_1 = [1, 0, 0, 0]$ and
$W_2 = [.25, .25, .25, .25]$ give the same score $W \\cdot x = 1$ and the same L1 penalty,
but L2 prefers the spread-out $W_2$:
"""),
    code(
        SETUP
        + """
x = gc.const(np.ones(4))
W1, W2 = gc.const(np.array([1.0, 0, 0, 0])), gc.const(np.full(4, 0.25))
for name, W in (("W1", W1), ("W2", W2)):
    score, l1, l2 = gc.evaluate([gc.sum(W * x), gc.l1(W), gc.l2(W)], {})
    print(f"{name}: score {score:g}, L1 penalty {l1:g}, L2 penalty {l2:g}")
"""
    ),
    md("""
## What each penalty does to a weight

Backprop through the penalty gives each weight its push towards zero. The gate view shows
the two rules with their numbers on three weights, one large, one small, one tiny:
"""),
    code("""
w = gc.input("w", (3,))
some = {"w": np.array([1.5, 0.2, -0.01])}
display(visual.render_backprop(gc.named(gc.l1(w), "L1"), some, title="L1: the same push"))
display(visual.render_backprop(gc.named(gc.l2(w), "L2"), some, title="L2: a push in proportion"))
"""),
    md("""
L2's push, $2\\lambda w$, fades as the weight shrinks: weights get small, never zero, and
large weights are the ones that pay, so L2 spreads the work over many weights. L1's push,
$\\lambda\\,\\mathrm{sign}(w)$, is the same for a tiny weight as for a large one: it drives
small weights all the way to zero, so L1 keeps a few weights and drops the rest.

## Landing on zero: the proximal step

"All the way to zero" needs care. A gradient step on the L1 term moves a weight by
$\\eta\\lambda$ towards zero whatever its size, so a weight closer to zero than that jumps
*over* it and comes back next step: it rattles around zero and is never exactly 0. The
*proximal* step does the L1 part differently: after the gradient step on the data term,
soft-threshold each weight, $w \\leftarrow \\mathrm{sign}(w)\\max(|w| - \\eta\\lambda, 0)$,
which puts every weight within $\\eta\\lambda$ of zero exactly on zero. graphc's exported
training code takes this step for the L1 terms of a loss with `proximal_l1=True` (`gc.export`,
`compile_trainer`; `graphc train --proximal-l1`), in all three modules. One weight that the
data no longer pulls on, step by step:
"""),
    code("""
import matplotlib.pyplot as plt
from graphc.modelfile import import_model_file

ex = import_model_file("../examples/l1_vs_l2.py")   # model(), compare(), soft_threshold()
lr, strength = 0.1, 0.05
sub, prox = [0.032], [0.032]
for _ in range(12):
    sub.append(sub[-1] - lr * strength * np.sign(sub[-1]))         # subgradient step
    prox.append(float(ex.soft_threshold(np.array(prox[-1]), lr * strength)))
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(sub, "o-", label="gradient step on λ|w|: jumps over 0")
ax.plot(prox, "s-", label="proximal step (soft threshold): lands on 0")
ax.axhline(0, color="gray", linewidth=0.8)
ax.set(xlabel="step", ylabel="w", title=f"one weight, lr {lr}, strength {strength}")
ax.legend();
print("last subgradient steps:", np.round(sub[-4:], 4), " proximal:", prox[-4:])
"""),
    md("""
## On the digits

`examples/l1_vs_l2.py` trains the same linear softmax classifier (64 pixels → 10 classes,
640 weights) three ways with graphc's exported SGD and the same minibatches: L2, L1 by its
gradient (subgradient) step, and L1 by the proximal step (`proximal_l1=True`), all with
strength 0.003:
"""),
    code("""
results = ex.compare(strength=3e-3, epochs=20)
for way, r in results.items():
    W = np.abs(r["W"])
    top = np.sort(W.ravel())[::-1]
    print(f"{way:>22}: {r['exact zeros']:3d} of {W.size} weights exactly 0, "
          f"{r['below 1e-3']:3d} below 1e-3; the largest 64 weights hold "
          f"{top[:64].sum() / top.sum():.0%} of the total |W|; "
          f"validation accuracy {r['validation accuracy']:.1%}")
"""),
    md("""
The numbers say the lecture's point: with the proximal step L1 sets over a quarter of the
weights exactly to zero and concentrates the rest on few pixels (the largest tenth of the
weights carries a larger share of the total); L2 keeps every weight and spreads the work.
Trained by its plain gradient step, L1 brings about as many weights *near* zero but none
*to* zero. All three classify about equally well here.

Where the weights sit, for the digit 3 (each square is one of the 8x8 pixels; white is an
exact zero) and over all weights:
"""),
    code("""
shown = {"L2": results["L2"], "L1 (proximal step)": results["L1 (proximal step)"]}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, (way, r) in zip(axes, shown.items()):
    w = r["W"][:, 3].reshape(8, 8)
    limit = np.abs(w).max()
    image = np.ma.masked_equal(w, 0.0)            # exact zeros stay white
    ax.imshow(image, cmap="coolwarm", vmin=-limit, vmax=limit)
    ax.set(title=f"{way}: weights for the digit 3\\n{int((w == 0).sum())} of 64 exactly 0",
           xticks=[], yticks=[])
edge = max(np.abs(r["W"]).max() for r in shown.values())
bins = np.linspace(-edge, edge, 41)
for way, r in shown.items():
    w = r["W"].ravel()
    axes[2].hist(w[w != 0], bins=bins, alpha=0.6, label=f"{way}: {int((w == 0).sum())} exactly 0")
    if (w == 0).any():
        axes[2].bar(0, int((w == 0).sum()), width=edge / 12, color="black")
axes[2].set(yscale="log", ylim=(0.8, 3000), xlabel="weight", ylabel="how many (of 640)",
            title="all weights (black bar: exact zeros)")
axes[2].legend(fontsize=8, loc="upper right");
"""),
    md("""
Sparse against distributed: L1's weights for the 3 use a handful of pixels and ignore the
rest (white); L2's use every pixel a little. The histogram shows the same over all ten
classes: L1's spike at exactly zero, L2's smooth bump. A sparse model is one whose
unused inputs can be read off and removed; a distributed one degrades gracefully when an
input is noisy. Which to want depends on the data; the lecture's network uses L2.
"""),
]


BATCHNORM_DROPOUT = [
    md("""
# 5. Batch norm and dropout: one graph, two modes

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
