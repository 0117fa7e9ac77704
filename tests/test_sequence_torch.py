"""The sequence ops against PyTorch: values, vjps and jvps equal torch's float64 results
(tests/fixtures/sequence_reference.npz, written by make_sequence_reference.py) to 1e-12,
normwise relative."""

import os

import numpy as np
import pytest

import graphc as gc

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "sequence_reference.npz")
TOLERANCE = 1e-12

# case -> graphc's builder of the same outputs, from nodes standing for torch's inputs
BUILDERS = {
    "gelu": lambda x: [gc.gelu(x)],
    "silu": lambda x: [gc.silu(x)],
    "elu": lambda x: [gc.elu(x, alpha=1.5)],
    "max": lambda x: [gc.max(x, axis=1)],
    "min": lambda x: [gc.min(x, axis=(0, 2))],
    "var": lambda x: [gc.var(x, axis=0)],
    "var_all_biased": lambda x: [gc.var(x, correction=0)],
    "std": lambda x: [gc.std(x, axis=-1, keepdims=True)],
    "layer_norm": lambda x, g, b: [gc.layer_norm(x, g, b, eps=1e-5)],
    "masked_softmax": lambda x, m: [gc.softmax(x, axis=-1, mask=m)],
    "embedding": lambda ids, table: [gc.embedding(ids, table)],
    "concat": lambda a, b: [gc.concat([a, b], axis=1)],
    "stack": lambda a, b, c: [gc.stack([a, b, c], axis=1)],
    "slicing": lambda x: [x[:, 1:], x[:, -1], x[:, ::2], x[1, :, 2]],
    "split": lambda x: gc.split(x, [2, 3], axis=1),
    "attention": lambda q, k, v: [gc.attention(q, k, v)],
    "attention_causal": lambda q, k, v: [gc.attention(q, k, v, causal=True)],
    "attention_mask": lambda q, k, v, m: [gc.attention(q, k, v, mask=m)],
    "rnn_cell": lambda *args: [gc.rnn_cell(*args)],
    "lstm_cell": lambda x, h, c, *w: list(gc.lstm_cell(x, (h, c), *w)),
    "gru_cell": lambda *args: [gc.gru_cell(*args)],
}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return dict(data)


def _arrays(reference, case, prefix):
    found, k = [], 0
    while f"{case}/{prefix}{k}" in reference:
        found.append(reference[f"{case}/{prefix}{k}"])
        k += 1
    return found


def assert_close(got, want):
    error = np.linalg.norm(np.ravel(got - want)) / max(np.linalg.norm(np.ravel(want)), 1e-300)
    assert got.shape == want.shape and error <= TOLERANCE, error


@pytest.mark.parametrize("case", sorted(BUILDERS))
def test_values_vjps_and_jvps_equal_pytorchs(case, reference):
    arrays = _arrays(reference, case, "in")
    leaves = [gc.input(f"in{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
    values = {leaf.name: a for leaf, a in zip(leaves, arrays)}
    outputs = BUILDERS[case](*leaves)
    for got, want in zip(gc.evaluate(outputs, values), _arrays(reference, case, "out")):
        assert_close(got, want)
    wrt = [leaf for leaf in leaves if leaf.dtype == "float64"]
    cotangents = _arrays(reference, case, "cot")
    seeds = [gc.input(f"cot{i}", c.shape) for i, c in enumerate(cotangents)]
    seed_values = {s.name: c for s, c in zip(seeds, cotangents)}
    vjps = gc.evaluate(gc.vjp(outputs, seeds, wrt), values | seed_values)
    for got, want in zip(vjps, _arrays(reference, case, "vjp"), strict=True):
        assert_close(got, want)
    tangents = _arrays(reference, case, "tan")
    jvps = gc.evaluate(gc.jvp(outputs, wrt, tangents), values)
    for got, want in zip(jvps, _arrays(reference, case, "jvp"), strict=True):
        assert_close(got, want)
