"""`graphc demo`: the lecture's 1-layer PReLU network with an L2 penalty, end to end."""

from __future__ import annotations

import json
import os

import numpy as np

import graphc as gc


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


def run_demo(out: str) -> dict:
    """Build, evaluate and save the lecture's network; print what was written where."""
    from sklearn.datasets import load_digits

    os.makedirs(out, exist_ok=True)
    digits = load_digits()
    loss, logits = lecture_network(digits.data.shape[1], 10)
    values = gc.init_params(loss, seed=0)
    values.update(x=digits.data / 16.0, y=digits.target)
    loss_value, logit_values = gc.evaluate([loss, logits], values)
    accuracy = float(np.mean(logit_values.argmax(axis=1) == digits.target))
    graph_path = os.path.join(out, "lecture_network.json")
    gc.save(loss, graph_path)
    summary = {"nodes": len(gc.topological_order(loss)), "initial_loss": float(loss_value),
               "initial_accuracy": accuracy}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"lecture network: {summary['nodes']} nodes, initial loss {loss_value:.4f} on "
          f"{len(digits.target)} digits (accuracy {accuracy:.1%} before training)")
    print(f"wrote {graph_path}")
    print(f"wrote {os.path.join(out, 'summary.json')}")
    return summary
