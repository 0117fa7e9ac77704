"""Every primitive op names an array-API function that jax.numpy spells as NumPy does: the
JAX renderer writes `jnp.<array_fn>(...)` (or Python's operator, method or indexing for
it), so each one, as written and run on the op's samples, must compute the op's NumPy
kernel (the op is checked by being registered)."""

import numpy as np
import pytest

import graphc as gc
from graphc.codegen.spell import expression
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
        values = {f"a{k}": _call_value(a, feed) for k, a in enumerate(args)}
        values = {
            k: jax.numpy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in values.items()
        }
        source = expression("jnp", op.array_fn, list(values), kwargs)
        got = eval(source, {"jnp": jax.numpy}, values)  # noqa: S307 - the renderer's own text
        got = np.asarray(got, dtype=want.dtype)
        assert got.shape == want.shape, name
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


HELPERS = sorted(
    name
    for name in set(OPS) - MODE_OPS
    if REGISTRY[name].helper
    and REGISTRY[name].decompose is None
    and REGISTRY[name].helper != "dropout_mask"  # random draws: each target its own stream
)


@pytest.mark.parametrize("name", HELPERS)
def test_jax_runtime_computes_each_helper_as_its_kernel(name, rng):
    from graphc.codegen import jax_runtime

    op = REGISTRY[name]
    for node, feed in sample_nodes(name, rng):
        want = gc.evaluate(node, feed)
        args, kwargs = op.call(node)
        got = getattr(jax_runtime, op.helper)(*[_call_value(a, feed) for a in args], **kwargs)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-300, err_msg=name)


def test_every_op_reaches_primitives_the_jax_renderer_writes():
    for name in set(OPS) - MODE_OPS:
        op = REGISTRY[name]
        assert op.decompose or op.helper == "dropout_mask" or name in PRIMITIVES + HELPERS, name
