"""What every notebook story is made of: markdown and code cells, the setup cell, and the
lecture's network (shared by notebooks 1 and 2)."""

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
