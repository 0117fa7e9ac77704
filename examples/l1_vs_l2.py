"""L1 versus L2 regularization on the same softmax classifier.

The lecture's example: for x = [1, 1, 1, 1], W1 = [1, 0, 0, 0] and W2 = [.25, .25, .25, .25]
give the same score W.x = 1, and the same L1 penalty (1), but L2 prefers the spread-out W2
(0.25 against 1). Trained, L2 shrinks every weight a little (a distributed solution) and L1
drives many to exactly zero (a sparse one) - provided the L1 step is the proximal one:
after the gradient step on the data term, soft-threshold each weight,
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
    """Train the classifier three ways with minibatch SGD (batch 32, the same data order):
    L2 (its gradient 2 * strength * W), L1 by its subgradient (strength * sign(W)) and L1 by
    the proximal step. Returns, per way, the trained W, its exact zeros, the weights below
    1e-3, and the validation loss (the data term) and accuracy."""
    splits = data()
    train, val = splits["train"], splits["validation"]
    loss, logits = model("l1", 0.0)  # the data term alone; each way adds its penalty's step
    W, b = gc.params(loss)
    ways = {
        "L2": model("l2", strength)[0],
        "L1 (subgradient step)": model("l1", strength)[0],
        "L1 (proximal step)": loss,
    }
    results = {}
    for way, objective in ways.items():
        grads = gc.grad(objective, gc.params(objective))
        params = gc.init_params(objective, seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = rng.permutation(len(train["y"]))
            for start in range(0, len(order), 32):
                rows = order[start : start + 32]
                batch = {"x": train["x"][rows], "y": train["y"][rows]}
                g_W, g_b = gc.evaluate(grads, params | batch)
                new_W = params["W"] - lr * g_W
                if way == "L1 (proximal step)":
                    new_W = soft_threshold(new_W, lr * strength)
                params = {"W": new_W, "b": params["b"] - lr * g_b}
        scores, fit = gc.evaluate([logits, loss], params | val)
        results[way] = {
            "W": params["W"],
            "exact zeros": int(np.sum(params["W"] == 0)),
            "below 1e-3": int(np.sum(np.abs(params["W"]) < 1e-3)),
            "validation loss": float(fit),
            "validation accuracy": float(np.mean(scores.argmax(axis=1) == val["y"])),
        }
    return results


if __name__ == "__main__":
    for way, r in compare().items():
        print(
            f"{way:>22}: {r['exact zeros']:3d} of {r['W'].size} weights exactly 0, "
            f"{r['below 1e-3']:3d} below 1e-3, validation accuracy {r['validation accuracy']:.1%}"
        )
