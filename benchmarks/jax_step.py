"""Time one SGD step of graphc's generated JAX module against a hand-written jax.jit step of
the same network (its gradient by jax.grad), float32, one thread, interleaved rounds in one
process; compile time reported apart.

    python benchmarks/jax_step.py [--rounds 15] [--workload mlp|tiny|deep|all]

Workloads as in train_step.py: "mlp" = batch 256, 784 -> 256 PReLU -> 10, softmax
cross-entropy + 1e-4 (|W1|^2 + |W2|^2); "tiny" = the lecture's 4 -> 3 PReLU example, batch 8;
"deep" = 16 PReLU layers of width 32, batch 64, softmax cross-entropy. The last column puts
graphc's NumPy step (gc.export's default module) beside the hand-written jax.jit step.
"""

import os

# XLA on one thread and on the CPU; importing train_step (below) drops OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE by running this process again without them, before NumPy is loaded.
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_PLATFORMS"] = "cpu"

# isort: off
from train_step import (  # noqa: E402 - first: it may re-run the process
    DEEP_CLASSES,
    DEEP_IN,
    DEPTH,
    LR,
    WIDTH,
    blas_kernels,
    deep_graph,
    machine,
    mlp_graph,
    paired_ratio,
    time_rounds,
    tiny_graph,
)

# isort: on

import argparse  # noqa: E402
import functools  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402

SHAPES = {
    "mlp": (256, 784, 256, 10),
    "tiny": (8, 4, 3, 3),
    "deep": (64, DEEP_IN, WIDTH, DEEP_CLASSES),
}
GRAPHS = {
    "mlp": lambda: mlp_graph(*SHAPES["mlp"][1:], "float32"),
    "tiny": lambda: tiny_graph("float32"),
    "deep": lambda: deep_graph("float32"),
}


def prelu(z, alpha):
    return jnp.where(z > 0, z, alpha * z)


def hand_loss(p, x, y, kind):
    """The network written directly in jax.numpy."""
    if kind == "deep":
        h = x
        for k in range(DEPTH):
            h = prelu(h @ p[f"W{k}"] + p[f"b{k}"], p[f"alpha{k}"])
        logits, penalty = h @ p["Wout"] + p["bout"], 0.0
    elif kind == "mlp":
        logits = prelu(x @ p["W1"] + p["b1"], p["alpha"]) @ p["W2"] + p["b2"]
        penalty = jnp.sum(p["W1"] ** 2) + jnp.sum(p["W2"] ** 2)
    else:
        logits, penalty = prelu(x @ p["W"] + p["b"], p["alpha"]), jnp.sum(p["W"] ** 2)
    picked = jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)
    return -jnp.mean(picked) + 1e-4 * penalty


@functools.partial(jax.jit, donate_argnums=0, static_argnums=(3,))
def hand_step(p, x, y, kind):
    """One SGD step: jax.grad of the hand-written loss."""
    loss, grads = jax.value_and_grad(hand_loss)(p, x, y, kind)
    return jax.tree.map(lambda w, g: w - LR * g, p, grads), loss


def load(path):
    spec = importlib.util.spec_from_file_location("generated_jax_step", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_seconds(jitted, *args):
    start = time.perf_counter()
    jitted.lower(*args).compile()
    return time.perf_counter() - start


def workload(kind, rounds, folder):
    """Medians per step, the ratios and compile times for one workload."""
    n, d, _, c = SHAPES[kind]
    loss = GRAPHS[kind]()
    module = load(gc.export(loss, os.path.join(folder, f"{kind}.py"), "sgd", lr=LR, backend="jax"))
    numpy_module = load(gc.export(loss, os.path.join(folder, f"{kind}_np.py"), "sgd", lr=LR))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, c, n)
    batch = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    params, state = module.init_params(0), module.init_state(0)
    hand = {k: jnp.array(v) for k, v in params.items()}
    compile_times = {
        "generated": compile_seconds(module.train_step, params, state, batch),
        "hand-written": compile_seconds(hand_step, hand, batch["x"], batch["y"], kind),
    }
    current = {"generated": (params, state), "hand": hand}
    numpy_params, numpy_state = numpy_module.init_params(0), numpy_module.init_state(0)
    numpy_batch = {"x": x, "y": y}

    def generated():
        p, s = current["generated"]
        p, s, value = module.train_step(p, s, batch)
        current["generated"] = (p, s)
        value.block_until_ready()

    def written():
        current["hand"], value = hand_step(current["hand"], batch["x"], batch["y"], kind)
        value.block_until_ready()

    def numpy_step():
        numpy_module.train_step(numpy_params, numpy_state, numpy_batch)

    steps = {"generated": generated, "hand-written": written, "graphc NumPy": numpy_step}
    samples = time_rounds(steps, rounds, 0.1)
    return {
        "workload": kind,
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        "compile": compile_times,
        "ratio": paired_ratio(samples, "generated", "hand-written"),
        "numpy ratio": paired_ratio(samples, "graphc NumPy", "hand-written"),
    }


def main(argv=None):
    """Run the chosen workloads and print a table with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workload", choices=(*SHAPES, "all"), default="all")
    args = parser.parse_args(argv)
    info = {**machine(), "jax": jax.__version__, "BLAS (NumPy)": "; ".join(blas_kernels())}
    print("Machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()))
    print("XLA: one thread (--xla_cpu_multi_thread_eigen=false), float32, SGD step\n")
    print(
        "| workload | generated JAX | hand-written jax.jit | gen / hand | compile gen / hand "
        "| graphc NumPy | NumPy / hand JAX |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    kinds = list(SHAPES) if args.workload == "all" else [args.workload]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            r = workload(kind, args.rounds, folder)
            us = {k: f"{v * 1e6:,.1f} us" for k, v in r["seconds"].items()}
            compiled = " / ".join(f"{r['compile'][k]:.2f} s" for k in ("generated", "hand-written"))
            print(
                f"| {kind} | {us['generated']} | {us['hand-written']} | {r['ratio']:.2f}x "
                f"| {compiled} | {us['graphc NumPy']} | {r['numpy ratio']:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
