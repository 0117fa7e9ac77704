"""Every primitive op names an array-API function that jax.numpy spells as NumPy does: the
JAX renderer writes `jnp.<array_fn>(...)`, so each one, called on the op's samples, must
compute the op's NumPy kernel (the op is checked by being registered)."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops.registry import REGISTRY
from test_registry import MODE_OPS, OPS, _call_value, sample_nodes

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

PRIMITIVES = sorted(
    name
    for name in set(OPS) - MODE_OPS
    if REGISTRY[name].array_fn and REGISTRY[name].decompose is None and not REGISTRY[name].helper
)


@pytest.mark.parametrize("name", PRIMITIVES)
def test_jax_numpy_computes_each_primitive_as_its_kernel(name, rng):
    op = REGISTRY[name]
    for node, feed in sample_nodes(name, rng):
        want = gc.evaluate(node, feed)
        args, kwargs = op.call(node)
        values = [_call_value(a, feed) for a in args]
        got = np.asarray(getattr(jax.numpy, op.array_fn)(*values, **kwargs), dtype=want.dtype)
        assert got.shape == want.shape, name
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_every_op_reaches_primitives_the_jax_renderer_writes():
    for name in set(OPS) - MODE_OPS:
        op = REGISTRY[name]
        assert op.decompose or op.helper == "dropout_mask" or name in PRIMITIVES, name
