"""The cells of the eight notebooks, as text: `make_notebooks.py` turns them into .ipynb
files and runs them, so each is stored with its outputs.

Each notebook tells one story with pictures, in the lecture's order: the graph and backprop,
four ways to differentiate, exporting and training, L1 against L2, batch norm and dropout,
reading learning curves (and deeper networks), activation saturation, and the gradient
through time of a recurrent network. The kernel's folder is
notebooks/, so example model files are `../examples/...`.
"""

from cells import PRELU_NET, SETUP, code, md
from stories_regularization import BATCHNORM_DROPOUT, L1_L2
from stories_sequences import SEQUENCES
from stories_training import CURVES_DEPTH, SATURATION

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
# 3. Exporting and training

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
gradient is summed back. The backward lines are the nodes of the backward picture, after
graphc's passes: the cross-entropy's gradient is `(softmax - one_hot) / N` in one line and
the penalty's `2 * 0.0001 * W` is folded to `0.0002 * W`. `update` is Adam as a formula.
Import the file and train it:
"""),
    code("""
trainer = import_trainer(path)
result = train(trainer, model.data, epochs=20, progress=ProgressBar(20))
result   # shows its learning curves and final metrics; result.history is a dict of lists
"""),
    md("""
`result` is the run: its learning curves, the final metrics, and `result.history`, a dict of
lists (one entry per epoch). What the shape of such curves says (a good fit, overfitting,
underfitting) is notebook 6, after the regularizers (notebook 4) and batch norm and dropout
(notebook 5) that change it.
"""),
]

NOTEBOOKS = {
    "1_prelu_graph": PRELU_GRAPH,
    "2_four_ways": FOUR_WAYS,
    "3_export_and_train": EXPORT_TRAIN,
    "4_l1_vs_l2": L1_L2,
    "5_batchnorm_dropout": BATCHNORM_DROPOUT,
    "6_curves_and_depth": CURVES_DEPTH,
    "7_saturation": SATURATION,
    "8_sequences": SEQUENCES,
}
