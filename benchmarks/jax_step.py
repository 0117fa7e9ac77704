"""Time one SGD step of graphc's generated JAX module against a hand-written jax.jit step of
the same network (its gradient by jax.grad), float32, one thread, interleaved rounds in one
process; compile time reported apart.

    python benchmarks/jax_step.py [--rounds 15] [--workload mlp|tiny|all]

Workloads as in train_step.py: "mlp" = batch 256, 784 -> 256 PReLU -> 10, softmax
cross-entropy + 1e-4 (|W1|^2 + |W2|^2); "tiny" = the lecture's 4 -> 3 PReLU example, batch 8.
"""

import os

# XLA on one thread and on the CPU; importing train_step (below) drops OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE by running this process again without them, before NumPy is loaded.
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_PLATFORMS"] = "cpu"

from train_step import (  # noqa: E402 - first: it may re-run the process
    LR,
    blas_kernels,
    machine,
    mlp_graph,
    paired_ratio,
    tiny_graph,
    time_rounds,
)

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

SHAPES = {"mlp": (256, 784, 256, 10), "tiny": (8, 4, 3, 3)}


def hand_loss(p, x, y, l2, hidden_layer):
    """The network written directly in jax.numpy."""
    h = x @ p["W1"] + p["b1"] if hidden_layer else x @ p["W"] + p["b"]
    h = jnp.where(h > 0, h, p["alpha"] * h)
    logits = h @ p["W2"] + p["b2"] if hidden_layer else h
    picked = jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)
    weights = ("W1", "W2") if hidden_layer else ("W",)
    return -jnp.mean(picked) + l2 * sum(jnp.sum(p[w] ** 2) for w in weights)


@functools.partial(jax.jit, donate_argnums=0, static_argnums=(3,))
def hand_step(p, x, y, hidden_layer):
    """One SGD step: jax.grad of the hand-written loss."""
    loss, grads = jax.value_and_grad(hand_loss)(p, x, y, 1e-4, hidden_layer)
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
    """Medians per step, the ratio and compile times for one workload."""
    n, d, h, c = SHAPES[kind]
    loss = mlp_graph(d, h, c, "float32") if kind == "mlp" else tiny_graph("float32")
    module = load(gc.export(loss, os.path.join(folder, f"{kind}.py"), "sgd", lr=LR, backend="jax"))
    rng = np.random.default_rng(0)
    batch = {
        "x": jnp.asarray(rng.normal(size=(n, d)), jnp.float32),
        "y": jnp.asarray(rng.integers(0, c, n)),
    }
    params, state = module.init_params(0), module.init_state(0)
    hand = {k: jnp.array(v) for k, v in params.items()}
    hidden_layer = kind == "mlp"
    compile_times = {
        "generated": compile_seconds(module.train_step, params, state, batch),
        "hand-written": compile_seconds(hand_step, hand, batch["x"], batch["y"], hidden_layer),
    }
    current = {"generated": (params, state), "hand": hand}

    def generated():
        p, s = current["generated"]
        p, s, value = module.train_step(p, s, batch)
        current["generated"] = (p, s)
        value.block_until_ready()

    def written():
        current["hand"], value = hand_step(current["hand"], batch["x"], batch["y"], hidden_layer)
        value.block_until_ready()

    samples = time_rounds({"generated": generated, "hand-written": written}, rounds, 0.1)
    return {
        "workload": kind,
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        "compile": compile_times,
        "ratio": paired_ratio(samples, "generated", "hand-written"),
    }


def main(argv=None):
    """Run the chosen workloads and print a table with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workload", choices=("mlp", "tiny", "all"), default="all")
    args = parser.parse_args(argv)
    info = {**machine(), "jax": jax.__version__, "BLAS (NumPy)": "; ".join(blas_kernels())}
    print("Machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()))
    print("XLA: one thread (--xla_cpu_multi_thread_eigen=false), float32, SGD step\n")
    print("| workload | generated JAX | hand-written jax.jit | gen / hand | compile gen / hand |")
    print("|---|---:|---:|---:|---:|")
    kinds = ["mlp", "tiny"] if args.workload == "all" else [args.workload]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            r = workload(kind, args.rounds, folder)
            us = {k: f"{v * 1e6:,.1f} us" for k, v in r["seconds"].items()}
            compiled = " / ".join(f"{r['compile'][k]:.2f} s" for k in ("generated", "hand-written"))
            print(
                f"| {kind} | {us['generated']} | {us['hand-written']} | {r['ratio']:.2f}x "
                f"| {compiled} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
