"""Walk the whole op registry: every op has every piece, and the pieces agree."""

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.ops.registry import KERNEL, MULTILINEAR, REGISTRY, apply

OPS = sorted(name for name, op in REGISTRY.items() if not op.leaf)
MODE_OPS = {"select_mode"}  # resolved by gc.specialize before anything runs


def sample_nodes(name, rng):
    """(node, arrays) for each sample of op `name`, with the arrays fed as inputs."""
    for k, (arrays, attrs) in enumerate(REGISTRY[name].samples(rng)):
        leaves = [gc.input(f"a{k}_{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
        yield apply(name, *leaves, **attrs), {leaf.name: a for leaf, a in zip(leaves, arrays)}


def test_registry_has_the_ops_the_public_api_names():
    for name in [
        "exp",
        "log",
        "sqrt",
        "abs",
        "tanh",
        "sigmoid",
        "relu",
        "prelu",
        "softplus",
        "maximum",
        "where",
        "sum",
        "matmul",
        "transpose",
        "reshape",
        "logsumexp",
        "softmax",
        "log_softmax",
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "neg",
    ]:
        assert name in REGISTRY


@pytest.mark.parametrize("name", OPS)
def test_op_has_every_piece(name):
    op = REGISTRY[name]
    assert op.infer is not None
    assert name in MODE_OPS or callable(op.kernel), "NumPy kernel"
    if not op.nondiff:
        for rules in (op.vjp, op.jvp):
            assert rules == MULTILINEAR or len(rules) == op.arity
            assert rules == MULTILINEAR or any(r is not None for r in rules)
    if name not in MODE_OPS:
        assert op.sympy is not None, "SymPy translation"
        assert op.samples is not None, "samples for the registry tests"
        assert op.emit is not None or op.kernel.__name__.isidentifier(), "NumPy source"


@pytest.mark.parametrize("name", sorted(set(OPS) - MODE_OPS))
def test_inferred_shape_and_dtype_match_the_kernel(name, rng):
    for node, feed in sample_nodes(name, rng):
        out = gc.evaluate(node, feed)
        assert out.shape == node.shape and out.dtype.name == node.dtype
        assert isinstance(REGISTRY[name].display(node), str) and REGISTRY[name].display(node)


@pytest.mark.parametrize("name", sorted(set(OPS) - MODE_OPS))
def test_emitted_source_computes_the_kernel(name, rng):
    op = REGISTRY[name]
    for node, feed in sample_nodes(name, rng):
        args = [f"a{i}" for i in range(len(node.inputs))]
        if op.emit is None:
            namespace = {op.kernel.__name__: op.kernel}
            source = (
                f"{op.kernel.__name__}({', '.join(args)}, "
                + ", ".join(f"{k}={v!r}" for k, v in node.attrs.items())
                + ")"
            )
        else:
            namespace = {}
            source = op.emit.format(*args, **{k: repr(v) for k, v in node.attrs.items()})
        namespace.update(np=np, **{a: feed[i.name] for a, i in zip(args, node.inputs)})
        got = eval(source, namespace)  # noqa: S307 - our own template, our own arrays
        np.testing.assert_allclose(got, gc.evaluate(node, feed), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(set(OPS) - MODE_OPS))
def test_sympy_translation_computes_the_kernel(name, rng):
    op = REGISTRY[name]
    for node, feed in sample_nodes(name, rng):
        arrays = [feed[i.name] for i in node.inputs]
        symbols = [
            np.vectorize(
                lambda v: sp.Float(v) if not isinstance(v, (bool, np.bool_)) else bool(v),
                otypes=[object],
            )(a)
            for a in arrays
        ]
        fn = op.kernel if op.sympy == KERNEL else op.sympy
        if name == "one_hot":
            symbols = arrays  # integer labels stay integers
        expr = np.asarray(fn(*symbols, **node.attrs), dtype=object)
        got = np.vectorize(
            lambda e: (
                complex(sp.N(e)).real
                if not isinstance(e, (bool, np.bool_))
                and not isinstance(e, sp.logic.boolalg.BooleanAtom)
                else float(bool(e))
            ),
            otypes=[float],
        )(expr)
        want = gc.evaluate(node, feed).astype(float)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-10, atol=1e-12)
