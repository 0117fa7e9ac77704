"""Time one SGD training step: graphc's generated code against hand-written NumPy, the
GEMM floor and (when installed) PyTorch eager, in interleaved rounds in one process.

    python benchmarks/train_step.py [--rounds 15] [--workload mlp|tiny|deep|all] [--json FILE]

Workloads: "mlp" = batch 256, 784 inputs, 256 hidden PReLU units (per-unit slope), 10
classes, softmax cross-entropy + 1e-4 (|W1|^2 + |W2|^2), float32 and float64; "tiny" = the
lecture's 4-input, 3-class PReLU example with batch 8, where per-op overhead dominates;
"deep" = 16 PReLU layers of width 32, batch 64, softmax cross-entropy, where per-statement
overhead dominates a real network. One BLAS thread, so the figures do not depend on the
machine's load, and the machine's real BLAS kernel: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
(set on these machines, they pick a slower kernel) are dropped from this process only, by
running it again without them before NumPy is imported.
"""

import os
import sys

_FORCED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _FORCED):  # re-run without them: BLAS reads them on load
    env = {k: v for k, v in os.environ.items() if k not in _FORCED}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: one thread for every BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.codegen import build_module  # noqa: E402

LR, L2 = 0.01, 1e-4


def mlp_graph(n_in, hidden, classes, dtype):
    """The benchmark network: one hidden PReLU layer, softmax cross-entropy, L2 penalty."""
    x, y = gc.input("x", (None, n_in), dtype), gc.input("y", (None,), "int64")
    W1 = gc.param("W1", (n_in, hidden), init="he_normal", dtype=dtype)
    b1 = gc.param("b1", (hidden,), dtype=dtype)
    alpha = gc.param("alpha", (hidden,), init=0.25, dtype=dtype)
    W2 = gc.param("W2", (hidden, classes), dtype=dtype)
    b2 = gc.param("b2", (classes,), dtype=dtype)
    logits = gc.prelu(x @ W1 + b1, alpha) @ W2 + b2
    return gc.softmax_cross_entropy(logits, y) + L2 * (gc.l2(W1) + gc.l2(W2))


def tiny_graph(dtype):
    """The lecture's example: 4 inputs, PReLU straight into 3 classes, L2 on W."""
    x, y = gc.input("x", (None, 4), dtype), gc.input("y", (None,), "int64")
    W = gc.param("W", (4, 3), init="he_normal", dtype=dtype)
    b = gc.param("b", (3,), dtype=dtype)
    alpha = gc.param("alpha", (3,), init=0.25, dtype=dtype)
    return gc.softmax_cross_entropy(gc.prelu(x @ W + b, alpha), y) + L2 * gc.l2(W)


def hand_mlp(p, x, y):
    """A straightforward NumPy step, as one would write it from the lecture's formulas."""
    n = x.shape[0]
    z = x @ p["W1"] + p["b1"]
    h = np.where(z > 0, z, p["alpha"] * z)
    s = h @ p["W2"] + p["b2"]
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(prob[np.arange(n), y]).mean() + L2 * (
        (p["W1"] ** 2).sum() + (p["W2"] ** 2).sum()
    )
    g = prob.copy()
    g[np.arange(n), y] -= 1
    g /= n
    grads = {"W2": h.T @ g + 2 * L2 * p["W2"], "b2": g.sum(axis=0)}
    dh = g @ p["W2"].T
    dz = np.where(z > 0, dh, p["alpha"] * dh)
    grads["alpha"] = np.where(z > 0, 0, dh * z).sum(axis=0)
    grads["W1"] = x.T @ dz + 2 * L2 * p["W1"]
    grads["b1"] = dz.sum(axis=0)
    for k, g_k in grads.items():
        p[k] -= LR * g_k
    return loss


def hand_tiny(p, x, y):
    """The same straightforward step for the lecture's one-layer example."""
    n = x.shape[0]
    z = x @ p["W"] + p["b"]
    s = np.where(z > 0, z, p["alpha"] * z)
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(prob[np.arange(n), y]).mean() + L2 * (p["W"] ** 2).sum()
    g = prob.copy()
    g[np.arange(n), y] -= 1
    g /= n
    dz = np.where(z > 0, g, p["alpha"] * g)
    grads = {
        "W": x.T @ dz + 2 * L2 * p["W"],
        "b": dz.sum(axis=0),
        "alpha": np.where(z > 0, 0, g * z).sum(axis=0),
    }
    for k, g_k in grads.items():
        p[k] -= LR * g_k
    return loss


DEPTH, WIDTH, DEEP_IN, DEEP_CLASSES = 16, 32, 32, 10


def deep_graph(dtype):
    """16 PReLU layers of width 32 and a softmax cross-entropy: many small statements."""
    x, y = gc.input("x", (None, DEEP_IN), dtype), gc.input("y", (None,), "int64")
    h = x
    for k in range(DEPTH):
        W = gc.param(f"W{k}", (WIDTH, WIDTH), init="he_normal", dtype=dtype)
        b = gc.param(f"b{k}", (WIDTH,), dtype=dtype)
        alpha = gc.param(f"alpha{k}", (WIDTH,), init=0.25, dtype=dtype)
        h = gc.prelu(h @ W + b, alpha)
    W = gc.param("Wout", (WIDTH, DEEP_CLASSES), init="he_normal", dtype=dtype)
    return gc.softmax_cross_entropy(h @ W + gc.param("bout", (DEEP_CLASSES,), dtype=dtype), y)


def hand_deep(p, x, y):
    """The deep network's step written by hand: a loop over layers, backward in reverse."""
    n, hs, zs = x.shape[0], [x], []
    for k in range(DEPTH):
        zs.append(hs[-1] @ p[f"W{k}"] + p[f"b{k}"])
        hs.append(np.where(zs[-1] > 0, zs[-1], p[f"alpha{k}"] * zs[-1]))
    s = hs[-1] @ p["Wout"] + p["bout"]
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    prob = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(prob[np.arange(n), y]).mean()
    g = prob.copy()
    g[np.arange(n), y] -= 1
    g /= n
    grads = {"Wout": hs[-1].T @ g, "bout": g.sum(axis=0)}
    dh = g @ p["Wout"].T
    for k in reversed(range(DEPTH)):
        z = zs[k]
        grads[f"alpha{k}"] = np.where(z > 0, 0, dh * z).sum(axis=0)
        dz = np.where(z > 0, dh, p[f"alpha{k}"] * dh)
        grads[f"W{k}"], grads[f"b{k}"] = hs[k].T @ dz, dz.sum(axis=0)
        if k:
            dh = dz @ p[f"W{k}"].T
    for k, g_k in grads.items():
        p[k] -= LR * g_k
    return loss


def deep_floor_shapes(n):
    """The operand shapes of the deep step's matrix products."""
    layer = [((n, WIDTH), (WIDTH, WIDTH)), ((WIDTH, n), (n, WIDTH))]  # forward, dW
    head = [((n, WIDTH), (WIDTH, DEEP_CLASSES)), ((WIDTH, n), (n, DEEP_CLASSES))]
    dh = [((n, DEEP_CLASSES), (DEEP_CLASSES, WIDTH))] + [((n, WIDTH), (WIDTH, WIDTH))] * (DEPTH - 1)
    return layer * DEPTH + head + dh


def gemm_floor(shapes, dtype):
    """Only the matrix products of one step (forward, and two backward per layer but the
    first layer's input gradient), into preallocated outputs."""
    rng = np.random.default_rng(1)
    pairs = [
        (
            rng.normal(size=a).astype(dtype),
            rng.normal(size=b).astype(dtype),
            np.empty((a[0], b[1]), dtype),
        )
        for a, b in shapes
    ]

    def step():
        for a, b, out in pairs:
            np.matmul(a, b, out=out)

    return step


def mlp_floor_shapes(n, d, h, c):
    """The operand shapes of the mlp step's five matrix products."""
    return [
        ((n, d), (d, h)),
        ((n, h), (h, c)),  # forward
        ((h, n), (n, c)),
        ((n, c), (c, h)),  # second layer: dW2, dh
        ((d, n), (n, h)),
    ]  # first layer: dW1


def torch_step(graph_kind, values, dtype):
    """PyTorch eager on the CPU (one thread), or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = {k: torch.tensor(v, requires_grad=k not in ("x", "y")) for k, v in values.items()}
    t["y"] = t["y"].long()
    names = [k for k in t if k not in ("x", "y")]

    def step():
        if graph_kind == "mlp":
            z = t["x"] @ t["W1"] + t["b1"]
            s = torch.where(z > 0, z, t["alpha"] * z) @ t["W2"] + t["b2"]
            reg = (t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()
        else:
            z = t["x"] @ t["W"] + t["b"]
            s = torch.where(z > 0, z, t["alpha"] * z)
            reg = (t["W"] ** 2).sum()
        loss = torch.nn.functional.cross_entropy(s, t["y"]) + L2 * reg
        grads = torch.autograd.grad(loss, [t[k] for k in names])
        with torch.no_grad():
            for k, g in zip(names, grads):
                t[k].sub_(LR * g)
        return loss

    return step


def same_step(ns, hand, params, batch):
    """Check that the generated and the hand-written step compute the same update."""
    gen = {k: v.copy() for k, v in params.items()}
    ref = {k: v.copy() for k, v in params.items()}
    loss = ns["train_step"](gen, ns["init_state"](0), batch)
    want = hand(ref, batch["x"], batch["y"])
    tol = 1e-4 if batch["x"].dtype == np.float32 else 1e-10
    np.testing.assert_allclose(loss, want, rtol=tol)
    for k in gen:
        np.testing.assert_allclose(gen[k], ref[k], rtol=tol, atol=tol * 1e-2, err_msg=k)


def time_rounds(candidates, rounds, min_seconds=0.01):
    """Seconds per call of each candidate in each of `rounds` interleaved rounds."""
    reps = {}
    for name, fn in candidates.items():  # warm up, then pick repetitions per round
        fn()
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < min_seconds:
            fn()
            count += 1
        reps[name] = max(count, 3)
    samples = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / reps[name])
    return samples


def paired_ratio(samples, a, b):
    """Median over rounds of a/b within each round: neighbours in time share the machine's
    load, so the ratio is steadier than a ratio of medians on a busy machine."""
    return statistics.median(x / y for x, y in zip(samples[a], samples[b]))


def workload(kind, dtype, rounds):
    """Time every candidate on one workload; a dict of medians and ratios."""
    rng = np.random.default_rng(0)
    if kind == "mlp":
        n, d, h, c = 256, 784, 256, 10
        loss, hand, shapes = mlp_graph(d, h, c, dtype), hand_mlp, mlp_floor_shapes(n, d, h, c)
    elif kind == "deep":
        n, d, c = 64, DEEP_IN, DEEP_CLASSES
        loss, hand, shapes = deep_graph(dtype), hand_deep, deep_floor_shapes(n)
    else:
        n, d, c = 8, 4, 3
        loss, hand, shapes = tiny_graph(dtype), hand_tiny, [((n, d), (d, c)), ((d, n), (n, c))]
    batch = {"x": rng.normal(size=(n, d)).astype(dtype), "y": rng.integers(0, c, n)}
    ns = build_module(loss, "sgd", lr=LR).compile(f"<benchmark {kind}>")
    params, state = ns["init_params"](0), ns["init_state"](0)
    hand_params = {k: v.copy() for k, v in params.items()}
    same_step(ns, hand, params, batch)
    grads = gc.grad(loss, gc.params(loss))
    forward = gc.lower(loss, training=True, reuse_outputs=True)
    gradient = gc.lower([loss] + grads, training=True, reuse_outputs=True)
    args = [(batch | params)[a] for a in forward.args]
    grad_args = [(batch | params)[a] for a in gradient.args]
    candidates = {
        "generated": lambda: ns["train_step"](params, state, batch),
        "hand-written": lambda: hand(hand_params, batch["x"], batch["y"]),
        "gemm floor": gemm_floor(shapes, dtype),
        "forward (loss)": lambda: forward(*args),
        "gradient (loss+grads)": lambda: gradient(*grad_args),
    }
    torch = (
        torch_step(kind, batch | {k: v.copy() for k, v in params.items()}, dtype)
        if kind != "deep"
        else None
    )
    if torch is not None:
        candidates["pytorch eager"] = torch
    samples = time_rounds(candidates, rounds)
    ratios = {
        "generated / gemm floor": ("generated", "gemm floor"),
        "generated / hand-written": ("generated", "hand-written"),
        "gradient / forward": ("gradient (loss+grads)", "forward (loss)"),
    }
    if torch is not None:
        ratios["generated / pytorch"] = ("generated", "pytorch eager")
    return {
        "workload": kind,
        "dtype": dtype,
        "rounds": rounds,
        "seconds": {name: statistics.median(s) for name, s in samples.items()},
        **{key: paired_ratio(samples, a, b) for key, (a, b) in ratios.items()},
    }


def machine() -> dict:
    """What the figures were measured on."""
    model = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "blas threads": 1,
    }


def blas_kernels() -> list[str]:
    """The BLAS libraries NumPy loaded, with the kernel (architecture) each one picked."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl is not installed: BLAS kernel unknown"]
    return [
        f"{i.get('internal_api')} {i.get('version')}: kernel {i.get('architecture')}, "
        f"{i.get('num_threads')} threads ({os.path.basename(i.get('filepath', ''))})"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]


def report(result: dict) -> str:
    """Human-readable lines for one workload."""
    lines = [f"{result['workload']} ({result['dtype']})"]
    for name, seconds in result["seconds"].items():
        lines.append(f"  {name:<24} {seconds * 1e6:10.1f} us")
    for key, value in result.items():
        if " / " in key:
            lines.append(f"  {key:<24} {value:10.2f}x")
    return "\n".join(lines)


def markdown(info: dict, results: list[dict]) -> str:
    """A RESULTS.md table: microseconds per step and the ratios, one row per workload."""
    rows = [
        "| workload | dtype | generated | hand-written | GEMM floor | gen / floor "
        "| gen / hand | grad / fwd |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        us = {
            k: f"{v * 1e6:,.0f} us" if v >= 1e-4 else f"{v * 1e6:.1f} us"
            for k, v in r["seconds"].items()
        }
        rows.append(
            f"| {r['workload']} | {r['dtype']} | {us['generated']} | "
            f"{us['hand-written']} | {us['gemm floor']} | "
            f"{r['generated / gemm floor']:.2f}x | {r['generated / hand-written']:.2f}x"
            f" | {r['gradient / forward']:.2f} |"
        )
    machine_line = ", ".join(f"{k}: {v}" for k, v in info.items())
    return f"Machine: {machine_line}\n\n" + "\n".join(rows) + "\n"


def main(argv=None):
    """Run the chosen workloads and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--workload", choices=["mlp", "tiny", "deep", "all"], default="all")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--markdown", help="also write a markdown table to this file")
    args = parser.parse_args(argv)
    info = machine()
    info["blas"] = "; ".join(blas_kernels())
    print(", ".join(f"{k}: {v}" for k, v in info.items()))
    kinds = ["mlp", "tiny", "deep"] if args.workload == "all" else [args.workload]
    results = []
    for kind in kinds:
        for dtype in ("float32", "float64"):
            results.append(workload(kind, dtype, args.rounds))
            print(report(results[-1]), flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(info, results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
