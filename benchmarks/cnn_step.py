"""Time one SGD step of the digits CNN (examples/cnn_digits.py: two 3x3 convolutions of 32
and 64 channels with ReLU and 2x2 max pooling, a dense head, softmax cross-entropy + L2),
batch 64, float32, one thread, in interleaved rounds in one process: graphc's generated
NumPy step, a hand-written NumPy step (windows and matrix products), PyTorch eager (when
torch can be imported), a hand-written jax.jit step (jax.grad) and graphc's generated JAX
step (when JAX can be imported). Prints medians and per-round ratios.

    python benchmarks/cnn_step.py [--rounds 15]

torch and JAX in one process: run it with an interpreter that has torch and put the graphc
venv's site-packages after it on PYTHONPATH (this project: PYTHONPATH=.:/work/main/.venv/
lib/python3.11/site-packages /work/torchenv/bin/python benchmarks/cnn_step.py).
"""

import os

# XLA on one thread; importing train_step (below) drops OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE by running this process again without them, before NumPy is loaded.
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_PLATFORMS"] = "cpu"

# isort: off
from train_step import blas_kernels, machine, paired_ratio, time_rounds  # noqa: E402

# isort: on

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

import graphc as gc  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import cnn_digits  # noqa: E402

LR, L2, N = 0.01, 3e-4, 64


def load(path):
    spec = importlib.util.spec_from_file_location(f"cnn_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def windows(h):
    """3x3 windows of NHWC h padded by 1, as rows (N·H·W, C·3·3) in (C, kh, kw) order."""
    n, height, width, c = h.shape
    padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
    view = sliding_window_view(padded, (3, 3), axis=(1, 2))  # (N, H, W, C, 3, 3)
    return view.reshape(n * height * width, c * 9)


def overlap_add(rows, shape):
    """The adjoint of `windows`: rows (N·H·W, C·9) added back into NHWC `shape`."""
    n, height, width, c = shape
    parts = rows.reshape(n, height, width, c, 3, 3)
    out = np.zeros((n, height + 2, width + 2, c), rows.dtype)
    for i in range(3):
        for j in range(3):
            out[:, i : i + height, j : j + width] += parts[..., i, j]
    return out[:, 1:-1, 1:-1]


def pool(z):
    """2x2 max pooling of NHWC z, and the first maximum of each window (as PyTorch)."""
    n, height, width, c = z.shape
    blocks = z.reshape(n, height // 2, 2, width // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    blocks = blocks.reshape(n, height // 2, width // 2, c, 4)
    first = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, first[..., None], -1)[..., 0], first


def unpool(d, first):
    """The pooling's vjp: each window's upstream to its first maximum."""
    n, height, width, c = d.shape
    routed = (first[..., None] == np.arange(4)) * d[..., None]
    routed = routed.reshape(n, height, width, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return routed.reshape(n, 2 * height, 2 * width, c)


def hand_step(p, x, y):
    """One SGD step written directly in NumPy (channels last inside); returns the loss."""
    n = x.shape[0]
    h0 = x.transpose(0, 2, 3, 1)
    rows1 = windows(h0)
    z1 = np.maximum(rows1 @ p["conv1.W"].reshape(32, -1).T + p["conv1.b"], 0)
    z1 = z1.reshape(n, 8, 8, 32)
    p1, m1 = pool(z1)
    rows2 = windows(p1)
    z2 = np.maximum(rows2 @ p["conv2.W"].reshape(64, -1).T + p["conv2.b"], 0)
    z2 = z2.reshape(n, 4, 4, 64)
    p2, m2 = pool(z2)
    flat = p2.transpose(0, 3, 1, 2).reshape(n, -1)  # PyTorch's flatten order (C, H, W)
    logits = flat @ p["logits.W"] + p["logits.b"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    weights = ("conv1.W", "conv2.W", "logits.W")
    loss = -log_p[np.arange(n), y].mean() + L2 * sum(float(np.vdot(p[w], p[w])) for w in weights)
    g = np.exp(log_p)
    g[np.arange(n), y] -= 1
    g /= n
    grads = {"logits.W": flat.T @ g, "logits.b": g.sum(axis=0)}
    d2 = (g @ p["logits.W"].T).reshape(n, 64, 2, 2).transpose(0, 2, 3, 1)
    dz2 = unpool(d2, m2) * (z2 > 0)
    dz2 = dz2.reshape(-1, 64)
    grads["conv2.W"] = (dz2.T @ rows2).reshape(p["conv2.W"].shape)
    grads["conv2.b"] = dz2.sum(axis=0)
    d1 = overlap_add(dz2 @ p["conv2.W"].reshape(64, -1), p1.shape)
    dz1 = (unpool(d1, m1) * (z1 > 0)).reshape(-1, 32)
    grads["conv1.W"] = (dz1.T @ rows1).reshape(p["conv1.W"].shape)
    grads["conv1.b"] = dz1.sum(axis=0)
    for w in weights:
        grads[w] += 2 * L2 * p[w]
    for k, grad in grads.items():
        p[k] -= LR * grad
    return loss


def torch_step(params, x, y):
    """One SGD step in PyTorch eager, or None without torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)

    def step():
        h = F.max_pool2d(F.relu(F.conv2d(tx, t["conv1.W"], t["conv1.b"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, t["conv2.W"], t["conv2.b"], padding=1)), 2)
        logits = h.flatten(1) @ t["logits.W"] + t["logits.b"]
        penalty = sum((t[w] ** 2).sum() for w in ("conv1.W", "conv2.W", "logits.W"))
        loss = F.cross_entropy(logits, ty) + L2 * penalty
        grads = torch.autograd.grad(loss, list(t.values()))
        with torch.no_grad():
            for v, g in zip(t.values(), grads):
                v -= LR * g
        return loss

    return step


def jax_steps(loss, params, x, y, folder):
    """(hand-written jax.jit step, graphc's generated JAX step), or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def conv(h, w, b):
        out = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)))
        return out + b[None, :, None, None]

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def hand_loss(p, x, y):
        h = pool(jax.nn.relu(conv(x, p["conv1.W"], p["conv1.b"])))
        h = pool(jax.nn.relu(conv(h, p["conv2.W"], p["conv2.b"])))
        logits = h.reshape(h.shape[0], -1) @ p["logits.W"] + p["logits.b"]
        picked = jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)
        penalty = sum(jnp.sum(p[w] ** 2) for w in ("conv1.W", "conv2.W", "logits.W"))
        return -jnp.mean(picked) + L2 * penalty

    @jax.jit
    def hand(p, x, y):
        value, grads = jax.value_and_grad(hand_loss)(p, x, y)
        return jax.tree.map(lambda w, g: w - LR * g, p, grads), value

    module = load(gc.export(loss, os.path.join(folder, "cnn_jax.py"), "sgd", lr=LR, backend="jax"))
    batch = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    current = {"hand": {k: jnp.array(v) for k, v in params.items()}}
    current["generated"] = (module.init_params(0), module.init_state(0))

    def written():
        current["hand"], value = hand(current["hand"], batch["x"], batch["y"])
        value.block_until_ready()

    def generated():
        p, s, value = module.train_step(*current["generated"], batch)
        current["generated"] = (p, s)
        value.block_until_ready()

    return written, generated


def main(argv=None):
    """Time the candidates and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    busy = ", ".join(f"{v:.1f}" for v in os.getloadavg())  # other work on the machine
    info = machine() | {"blas": "; ".join(blas_kernels()), "load average": busy}
    print(", ".join(f"{k}: {v}" for k, v in info.items()))
    loss, _ = cnn_digits.model(l2=L2, dtype="float32")
    folder = tempfile.mkdtemp()
    ns = load(gc.export(loss, os.path.join(folder, "cnn.py"), "sgd", lr=LR))
    data = cnn_digits.data()["train"]
    x, y = data["x"][:N].astype(np.float32), data["y"][:N]
    params, state = ns.init_params(0), ns.init_state(0)
    hand_params = {k: v.copy() for k, v in params.items()}
    batch = {"x": x, "y": y}
    mine, theirs = (
        {k: v.copy() for k, v in params.items()},
        {k: v.copy() for k, v in params.items()},
    )
    want = hand_step(mine, x, y)  # the same step: the same loss and the same new params
    got = ns.train_step(theirs, ns.init_state(0), batch)
    assert abs(float(got) - want) <= 1e-5 * abs(want), (got, want)
    for k in mine:
        np.testing.assert_allclose(theirs[k], mine[k], rtol=1e-4, atol=1e-6, err_msg=k)
    candidates = {
        "generated numpy": lambda: ns.train_step(params, state, batch),
        "hand-written numpy": lambda: hand_step(hand_params, x, y),
    }
    torch = torch_step(params, x, y)
    if torch is not None:
        candidates["pytorch eager"] = torch
    jaxes = jax_steps(loss, params, x, y, folder)
    if jaxes is not None:
        candidates["jax.jit hand-written"], candidates["generated jax"] = jaxes
    samples = time_rounds(candidates, args.rounds)
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for name, s in samples.items():
        print(f"  {name:<22} {statistics.median(s) * 1e6:10.1f} us")
    for a in candidates:
        for b in candidates:
            if a != b and a.startswith("generated"):
                print(f"  {a} / {b:<22} {paired_ratio(samples, a, b):6.2f}x")


if __name__ == "__main__":
    main()
