"""`graphc demo`: the lecture's 1-layer PReLU network with an L2 penalty, end to end.

Build the graph, draw it forward and backward, differentiate it four ways, export NumPy
training code, train that code on scikit-learn's bundled digits with a progress bar, plot
the curves, and list every file written. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os

import numpy as np

import graphc as gc

from .datasets import digits
from .files import write_text
from .modelfile import save_npz
from .progress import ProgressBar
from .trainer import import_trainer, train

EPOCHS = 20
OPTIMIZER = {"optimizer": "adam", "lr": 0.01}
BLACKBOARD = {"n_in": 4, "n_classes": 3, "rows": 4}  # small enough for SymPy


def lecture_network(n_in: int = 64, n_classes: int = 10, l2: float = 1e-4):
    """The lecture's network: one dense layer, PReLU with a per-unit slope, softmax
    cross-entropy, plus an L2 penalty on the weights. Returns (loss, logits)."""
    x = gc.input("x", (None, n_in))
    y = gc.input("y", (None,), "int64")
    W = gc.param("W", (n_in, n_classes), init="he_normal")
    b = gc.param("b", (n_classes,))
    alpha = gc.param("alpha", (n_classes,), init=0.25)
    logits = gc.named(gc.prelu(x @ W + b, alpha), "logits")
    loss = gc.named(gc.softmax_cross_entropy(logits, y) + l2 * gc.l2(W), "loss")
    return loss, logits


class Written:
    """The files the demo wrote, each with what it holds, for the closing list."""

    def __init__(self, out: str):
        self.out = out
        self.files: list[tuple[str, str]] = []

    def path(self, name: str, what: str) -> str:
        """The path of `name` in the output folder, recorded with its description."""
        path = os.path.join(self.out, name)
        self.files.append((path, what))
        return path


def _heading(text: str) -> None:
    print(f"\n== {text} ==")


def _picture(picture, written: Written, stem: str, what: str) -> None:
    """Save a rendering as SVG, or as DOT source when Graphviz's `dot` program is missing."""
    import visual

    try:
        path = visual.save(picture, os.path.join(written.out, f"{stem}.svg"))
    except visual.GraphvizNotFoundError:
        path = visual.save(picture, os.path.join(written.out, f"{stem}.dot"))
        what += " as DOT source (Graphviz's dot program is missing)"
    written.files.append((path, what))


def _render(loss, values, written: Written) -> None:
    import visual

    wrt = gc.params(loss)
    _picture(
        visual.render(loss, values, grads=True, title="forward: values and gradients on 4 digits"),
        written,
        "forward",
        "the forward graph",
    )
    _picture(
        visual.render_backward(loss, wrt, title="backward: reverse mode's gradient graph"),
        written,
        "backward",
        "the backward graph",
    )
    _picture(
        visual.render_backprop(loss, values, title="backprop gate by gate on 4 digits"),
        written,
        "backprop",
        "the gate view: upstream × local = downstream at every op",
    )
    if not written.files[-1][0].endswith(".dot"):  # the page's frames are SVGs dot made
        page = visual.step_through(loss, values, os.path.join(written.out, "backprop.html"))
        written.files.append((page, "backprop step by step in a browser (→/← keys)"))
    print(
        f"drew {len(gc.topological_order(loss))} forward nodes and the gradient graph of "
        f"{', '.join(p.name for p in wrt)}"
    )
    if written.files[-1][0].endswith(".dot"):
        print(
            "Graphviz's `dot` program is missing, so the graphs were saved as DOT source; "
            f"to get the pictures, {visual.output.INSTALL_HINT}"
        )


def _compare(full_loss, full_values, written: Written) -> dict:
    rng = np.random.default_rng(0)
    n_in, k, rows = BLACKBOARD["n_in"], BLACKBOARD["n_classes"], BLACKBOARD["rows"]
    loss, _ = lecture_network(n_in, k, l2=1e-2)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(rows, n_in)),
        "y": rng.integers(0, k, rows),
    }
    small = gc.compare(loss, gc.params(loss), values)
    print(f"the same network at blackboard size ({n_in} inputs, {k} classes, {rows} rows):")
    print(small)
    full = gc.compare(
        full_loss, gc.params(full_loss), full_values, methods=("numeric", "forward", "reverse")
    )
    print(
        "\nat full size (64 inputs, 10 classes, 4 digits), where SymPy's expression would "
        "swell past its cap:"
    )
    print(full)
    write_text(
        written.path("comparison.txt", "the four differentiation methods compared"),
        f"blackboard size ({n_in} inputs, {k} classes, {rows} rows)\n{small}\n\n"
        f"full size (64 inputs, 10 classes, 4 digits)\n{full}\n",
    )
    write_text(
        written.path("comparison.json", "the same comparison as data"),
        json.dumps({"blackboard": small.to_dict(), "full": full.to_dict()}),
    )
    return {"blackboard": small, "full": full}


def _export_and_train(loss, logits, data, written: Written, epochs: int) -> dict:
    script = written.path("train_prelu_l2.py", "NumPy-only training code (python it --help)")
    gc.export(
        loss, script, OPTIMIZER["optimizer"], predictions=logits, epochs=epochs, lr=OPTIMIZER["lr"]
    )
    save_npz(
        data,
        written.path(
            "digits.npz", "the digits splits, for the script: python train_prelu_l2.py digits.npz"
        ),
    )
    with open(script) as f:
        lines = len(f.readlines())
    print(f"exported {script} ({lines} lines, imports NumPy only)")
    _readable(loss, logits, written, epochs)
    trainer = import_trainer(script)
    _heading(
        f"training the exported code on {len(data['train']['y'])} digits "
        f"({OPTIMIZER['optimizer']}, lr {OPTIMIZER['lr']}, {epochs} epochs)"
    )
    result = train(trainer, data, epochs, progress=ProgressBar(epochs))
    return result


def _readable(loss, logits, written: Written, epochs: int) -> None:
    """Export the code made to be read too, and show its backward pass."""
    script = written.path(
        "train_prelu_l2_readable.py",
        "the same training code written to be read: the forward pass one line per node, "
        "the backward pass one line per gradient, the optimizer's formula",
    )
    gc.export(
        loss,
        script,
        OPTIMIZER["optimizer"],
        predictions=logits,
        epochs=epochs,
        lr=OPTIMIZER["lr"],
        style="readable",
    )
    with open(script) as f:
        source = f.read()
    backward = source[
        source.index("    # backward:") : source.index("\n\n\n", source.index("def model("))
    ]
    print(f"exported {script}, written to be read; its backward pass, the chain rule line by line:")
    print(backward)


def _plot(history: dict, written: Written) -> None:
    import visual

    figure = visual.plot_history(history, title="the lecture's network on digits")
    visual.save(figure, written.path("curves.png", "loss and accuracy curves"))
    import matplotlib.pyplot as plt

    plt.close(figure)
    write_text(written.path("history.json", "the per-epoch history"), json.dumps(history, indent=1))


def run_demo(out: str, epochs: int = EPOCHS) -> dict:
    """Run the whole demo into folder `out`; print what was written where; return a summary."""
    os.makedirs(out, exist_ok=True)
    print(f"graphc demo: the lecture's network end to end, written into {out}/")
    written = Written(out)
    data = digits()
    loss, logits = lecture_network(64, 10)
    gc.save(
        [loss, logits],
        written.path(
            "lecture_network.json", "the graph, saved (graphc render/compare/train take it too)"
        ),
    )
    values = gc.init_params(loss, seed=0) | {k: v[:4] for k, v in data["train"].items()}

    _heading("the lecture's network: dense 64->10, PReLU, softmax cross-entropy + 1e-4 * L2")
    _render(loss, values, written)
    _heading("four ways to differentiate")
    reports = _compare(loss, values, written)
    _heading("exporting NumPy training code")
    result = _export_and_train(loss, logits, data, written, epochs)
    _plot(result.history, written)
    accuracy = result.final("val_accuracy")
    print(
        f"validation accuracy after {epochs} epochs: {accuracy:.1%} "
        f"(training {result.final('accuracy'):.1%})"
    )

    _heading("written")
    width = max(len(p) for p, _ in written.files)
    for path, what in written.files:
        print(f"  {path:<{width}}  {what}")
    summary = {
        "validation_accuracy": accuracy,
        "accuracy": result.final("accuracy"),
        "loss": result.final("loss"),
        "epochs": epochs,
        "files": [p for p, _ in written.files],
        "comparison": {k: r.to_dict() for k, r in reports.items()},
    }
    return summary
