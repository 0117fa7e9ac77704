"""Time one SGD step of the sequence workloads, float32, one thread, in interleaved rounds in
one process: graphc's generated NumPy step, PyTorch eager (when torch can be imported), a
hand-written jax.jit step (jax.grad) and graphc's generated JAX step (when JAX can be
imported); then the compile-to-first-step time of the T = 50 unrolled LSTM.

    python benchmarks/sequence_step.py [--rounds 15] [--workload lstm|attention|all]

"lstm" = the adding problem's LSTM (examples/adding_lstm.py), batch 64, T = 50, hidden 64,
a linear read-out of the last hidden state, mean squared error. "attention" = the sorting
transformer (examples/attention_sort.py), batch 64, 8 tokens, width 64, one head, feed-forward
128, token cross-entropy. The hand-written JAX LSTM runs its steps with lax.scan (what a JAX
user writes); for compile time a Python loop unrolled 50 times is timed too (the graph
graphc compiles is unrolled).

torch and JAX in one process: run it with an interpreter that has torch and put the graphc
venv's site-packages after it on PYTHONPATH (this project: PYTHONPATH=.:/work/main/.venv/
lib/python3.11/site-packages /work/torchenv/bin/python benchmarks/sequence_step.py).
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
import time  # noqa: E402

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import adding_lstm  # noqa: E402
import attention_sort  # noqa: E402

LR, N, STEPS, HIDDEN = 0.01, 64, 50, 64


def load(path):
    spec = importlib.util.spec_from_file_location(f"seq_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lstm_graph():
    return adding_lstm.network("lstm", hidden=HIDDEN, steps=STEPS, dtype="float32")[0]


def attention_graph():
    return attention_sort.network(dtype="float32")[0]


def lstm_batch():
    data = adding_lstm.adding(N, STEPS, seed=0)
    return {k: v.astype(np.float32) for k, v in data.items()}


def attention_batch():
    return attention_sort.sequences(N, seed=0)


# ---- PyTorch eager -------------------------------------------------------------------------


def torch_lstm_loss(torch, t, x, y):
    """The adding network through torch.nn.functional: one LSTM cell per step (torch's own
    fused cell, torch.lstm_cell), the read-out and the mean squared error."""
    h = c = torch.zeros(x.shape[0], HIDDEN)
    for step in range(STEPS):
        h, c = torch.lstm_cell(x[:, step], (h, c), t["w_ih"], t["w_hh"], t["b"])
    prediction = h @ t["readout.W"] + t["readout.b"]
    return torch.nn.functional.mse_loss(prediction, y)


def torch_attention_loss(torch, t, x, y):
    """The sorting transformer through torch.nn.functional."""
    F = torch.nn.functional
    width = t["embed.table"].shape[1]
    h = F.embedding(x, t["embed.table"]) + t["embed.positions"]
    q, k, v = (h @ t[f"attend.W{name}"] for name in "qkv")
    weights = torch.softmax(q @ k.transpose(1, 2) / width**0.5, dim=-1)
    h = F.layer_norm(h + (weights @ v) @ t["attend.Wo"], (width,), t["attend.gamma"])
    f = torch.relu(h @ t["ff.W1"] + t["ff.b1"]) @ t["ff.W2"]
    h = F.layer_norm(h + f, (width,), t["ff.gamma"])
    logits = h @ t["out.W"] + t["out.b"]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def torch_step(kind, params, batch):
    """(one SGD step in PyTorch eager, its loss at `params`), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    loss_fn = {"lstm": torch_lstm_loss, "attention": torch_attention_loss}[kind]
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x, y = torch.tensor(batch["x"]), torch.tensor(batch["y"])
    first = float(loss_fn(torch, t, x, y).detach())

    def step():
        loss = loss_fn(torch, t, x, y)
        grads = torch.autograd.grad(loss, list(t.values()))
        with torch.no_grad():
            for value, grad in zip(t.values(), grads):
                value -= LR * grad
        return loss

    return step, first


# ---- JAX -----------------------------------------------------------------------------------


def jax_losses():
    """The hand-written jax.numpy losses: the LSTM with lax.scan and unrolled, the
    transformer."""
    import jax
    import jax.numpy as jnp

    def cell(p, state, x_t):
        h, c = state
        z = x_t @ p["w_ih"].T + h @ p["w_hh"].T + p["b"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c

    def readout(p, h, y):
        return jnp.mean((h @ p["readout.W"] + p["readout.b"] - y) ** 2)

    def lstm_scan(p, x, y):
        zeros = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
        (h, _), _ = jax.lax.scan(
            lambda s, x_t: (cell(p, s, x_t), None), (zeros, zeros), jnp.swapaxes(x, 0, 1)
        )
        return readout(p, h, y)

    def lstm_unrolled(p, x, y):
        h = c = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
        for step in range(x.shape[1]):
            h, c = cell(p, (h, c), x[:, step])
        return readout(p, h, y)

    def layer_norm(h, gamma):
        mean = h.mean(-1, keepdims=True)
        var = ((h - mean) ** 2).mean(-1, keepdims=True)
        return (h - mean) / jnp.sqrt(var + 1e-5) * gamma

    def attention(p, x, y):
        width = p["embed.table"].shape[1]
        h = p["embed.table"][x] + p["embed.positions"]
        q, k, v = (h @ p[f"attend.W{name}"] for name in "qkv")
        weights = jax.nn.softmax(q @ jnp.swapaxes(k, 1, 2) / width**0.5, axis=-1)
        h = layer_norm(h + (weights @ v) @ p["attend.Wo"], p["attend.gamma"])
        h = layer_norm(h + jax.nn.relu(h @ p["ff.W1"] + p["ff.b1"]) @ p["ff.W2"], p["ff.gamma"])
        logits = h @ p["out.W"] + p["out.b"]
        picked = jnp.take_along_axis(jax.nn.log_softmax(logits), y[..., None], axis=-1)
        return -jnp.mean(picked)

    return {"lstm": lstm_scan, "lstm unrolled": lstm_unrolled, "attention": attention}


def sgd(loss_fn):
    """A jitted SGD step of `loss_fn`: (params, x, y) -> (new params, loss)."""
    import jax

    @jax.jit
    def step(p, x, y):
        value, grads = jax.value_and_grad(loss_fn)(p, x, y)
        return jax.tree.map(lambda w, g: w - LR * g, p, grads), value

    return step


def jax_steps(kind, graph, params, batch, folder):
    """(hand-written jax.jit step, graphc's generated JAX step, the hand loss at `params`),
    or None without JAX."""
    try:
        import jax.numpy as jnp
    except ImportError:
        return None
    loss_fn = jax_losses()[kind]
    hand = sgd(loss_fn)
    path = gc.export(graph, os.path.join(folder, f"{kind}_jax.py"), "sgd", lr=LR, backend="jax")
    module = load(path)
    x, y = jnp.asarray(batch["x"]), jnp.asarray(batch["y"])
    current = {"hand": {k: jnp.array(v) for k, v in params.items()}}
    current["generated"] = (module.init_params(0), module.init_state(0))
    first = float(loss_fn(current["hand"], x, y))
    jax_batch = {"x": x, "y": y}

    def written():
        current["hand"], value = hand(current["hand"], x, y)
        value.block_until_ready()

    def generated():
        p, s, value = module.train_step(*current["generated"], jax_batch)
        current["generated"] = (p, s)
        value.block_until_ready()

    return written, generated, first


# ---- compile to first step -----------------------------------------------------------------


def warm_up(folder):
    """Export and jit something small first, so that neither side's times include one-off
    imports and start-up (XLA's backend, graphc's code generator)."""
    x = gc.input("x", (None, 2), "float32")
    small = gc.mse(x @ gc.param("w", (2, 1), dtype="float32"), gc.input("y", (None, 1), "float32"))
    load(gc.export(small, os.path.join(folder, "warm.py"), "sgd", lr=LR))
    try:
        import jax
    except ImportError:
        return
    load(gc.export(small, os.path.join(folder, "warm_jax.py"), "sgd", lr=LR, backend="jax"))
    jax.jit(lambda a: a * 2)(np.ones(3, np.float32)).block_until_ready()


def compile_to_first_step(folder):
    """Seconds from nothing to the first SGD step done, for the T = 50 LSTM: graphc builds
    the graph, exports and imports the module and runs a step (NumPy, then JAX); JAX traces,
    compiles and runs the hand-written step (lax.scan, then the unrolled loop)."""
    batch = lstm_batch()
    seconds = {}
    warm_up(folder)

    def graphc_first(backend):
        start = time.perf_counter()
        graph = lstm_graph()
        built = time.perf_counter()
        name = os.path.join(folder, f"first_{backend}.py")
        module = load(gc.export(graph, name, "sgd", lr=LR, backend=backend))
        params, state = module.init_params(0), module.init_state(0)
        out = module.train_step(params, state, batch)
        float(out[-1] if isinstance(out, tuple) else out)
        return built - start, time.perf_counter() - start, module.init_params(0)

    seconds["graphc NumPy: the graph"], seconds["graphc NumPy"], params = graphc_first("numpy")
    try:
        import jax.numpy as jnp
    except ImportError:
        return seconds
    seconds["graphc JAX: the graph"], seconds["graphc JAX"], _ = graphc_first("jax")
    params = {k: jnp.asarray(v) for k, v in params.items()}
    for kind in ("lstm", "lstm unrolled"):
        start = time.perf_counter()
        step = sgd(jax_losses()[kind])
        _, value = step(params, jnp.asarray(batch["x"]), jnp.asarray(batch["y"]))
        value.block_until_ready()
        seconds[f"jax.jit hand-written ({'scan' if kind == 'lstm' else 'unrolled'})"] = (
            time.perf_counter() - start
        )
    return seconds


# ---- the workloads -------------------------------------------------------------------------


def workload(kind, rounds, folder):
    """Medians per step and the paired ratios for one workload."""
    graph = {"lstm": lstm_graph, "attention": attention_graph}[kind]()
    batch = {"lstm": lstm_batch, "attention": attention_batch}[kind]()
    ns = load(gc.export(graph, os.path.join(folder, f"{kind}.py"), "sgd", lr=LR))
    params, state = ns.init_params(0), ns.init_state(0)
    start = {k: v.copy() for k, v in params.items()}
    want = float(ns.evaluate_batch(start, state, batch)[0])
    candidates = {"generated numpy": lambda: ns.train_step(params, state, batch)}
    firsts = {}
    torch = torch_step(kind, start, batch)
    if torch is not None:
        candidates["pytorch eager"], firsts["pytorch eager"] = torch
    jaxes = jax_steps(kind, graph, start, batch, folder)
    if jaxes is not None:
        candidates["jax.jit hand-written"], candidates["generated jax"], firsts["jax"] = jaxes
    for name, loss in firsts.items():  # the same loss at the same params: the same step
        assert abs(loss - want) <= 1e-4 * abs(want), (kind, name, loss, want)
    samples = time_rounds(candidates, rounds, 0.1)
    print(f"{kind}  ({rounds} rounds; medians, and ratios of the same rounds)")
    for name, s in samples.items():
        print(f"  {name:<22} {statistics.median(s) * 1e3:10.2f} ms")
    for a in candidates:
        for b in candidates:
            if a != b and a.startswith("generated") and not b.startswith("generated"):
                print(f"  {a} / {b:<22} {paired_ratio(samples, a, b):6.2f}x")
    return samples


def main(argv=None):
    """Time the candidates and print medians, ratios and compile times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workload", choices=("lstm", "attention", "all"), default="all")
    args = parser.parse_args(argv)
    info = machine() | {"blas": "; ".join(blas_kernels()), "load": os.getloadavg()[0]}
    print(", ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    folder = tempfile.mkdtemp()
    if args.workload in ("lstm", "all"):
        print("compile to first step, T = 50 LSTM (one run each):")
        for name, s in compile_to_first_step(folder).items():
            print(f"  {name:<36} {s:8.2f} s", flush=True)
    for kind in ("lstm", "attention"):
        if args.workload in (kind, "all"):
            workload(kind, args.rounds, folder)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
