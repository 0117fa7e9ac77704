"""L1 versus L2 regularization on the same softmax classifier.

The lecture's example: for x = [1, 1, 1, 1], W1 = [1, 0, 0, 0] and W2 = [.25, .25, .25, .25]
give the same score W.x = 1, and the same L1 penalty (1), but L2 prefers the spread-out W2
(0.25 against 1). Trained, L2 shrinks every weight a little (a distributed solution) and L1
drives many to exactly zero (a sparse one) - provided the L1 step is the proximal one
(`proximal_l1=True` of gc.export and compile_trainer, `graphc train --proximal-l1`): after
the optimizer's step on the rest of the loss, soft-threshold each weight,
w <- sign(w) * max(|w| - lr * strength, 0), which sets every weight within lr * strength of
zero to exactly 0. A plain gradient step on the L1 term (its subgradient, strength *
sign(w)) jumps over zero instead of landing on it, so it leaves weights near zero but none
exactly zero. `compare()` trains the three and counts.

`model("l2")` builds the other variant; `graphc` itself calls `model()`, the L1 one.
"""

import numpy as np

import graphc as gc
from graphc.datasets import digits

PENALTIES = {"l1": gc.l1, "l2": gc.l2}


def model(penalty: str = "l1", strength: float = 1e-3):
    """(loss, logits) of a linear softmax classifier with an L1 or L2 weight penalty."""
    x = gc.input("x", (None, 64))
    y = gc.input("y", (None,), "int64")
    W = gc.param("W", (64, 10), init="xavier_uniform")
    b = gc.param("b", (10,))
    logits = gc.named(x @ W + b, "logits")
    fit = gc.softmax_cross_entropy(logits, y)
    loss = gc.named(fit + strength * PENALTIES[penalty](W), "loss")
    return loss, logits


def data():
    """Digits, a quarter held out for validation."""
    return digits()


def soft_threshold(w: np.ndarray, amount: float) -> np.ndarray:
    """The proximal step of amount * |w|: shrink each weight by `amount` towards zero and
    stop at zero (every |w| <= amount becomes exactly 0)."""
    return np.sign(w) * np.maximum(np.abs(w) - amount, 0.0)


def compare(strength: float = 3e-3, epochs: int = 20, lr: float = 0.1, seed: int = 0) -> dict:
    """Train the classifier three ways with graphc's exported SGD (batch 32, the same data
    order): L2, L1 by its gradient (subgradient) step and L1 by the proximal step
    (`proximal_l1=True`). Returns, per way, the trained W, its exact zeros, the weights below
    1e-3, and the validation loss (penalty included) and accuracy."""
    from graphc.trainer import compile_trainer, train

    ways = {"L2": ("l2", False), "L1 (subgradient step)": ("l1", False)}
    ways["L1 (proximal step)"] = ("l1", True)
    splits = data()
    results = {}
    for way, (penalty, proximal) in ways.items():
        loss, logits = model(penalty, strength)
        trainer = compile_trainer(loss, "sgd", predictions=logits, lr=lr, proximal_l1=proximal)
        run = train(trainer, splits, epochs, seed=seed)
        W = run.params["W"]
        results[way] = {
            "W": W,
            "exact zeros": int(np.sum(W == 0)),
            "below 1e-3": int(np.sum(np.abs(W) < 1e-3)),
            "validation loss": run.history["val_loss"][-1],
            "validation accuracy": run.history["val_accuracy"][-1],
        }
    return results


if __name__ == "__main__":
    for way, r in compare().items():
        print(
            f"{way:>22}: {r['exact zeros']:3d} of {r['W'].size} weights exactly 0, "
            f"{r['below 1e-3']:3d} below 1e-3, validation accuracy {r['validation accuracy']:.1%}"
        )
