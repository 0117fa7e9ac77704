"""The facts each op states on its `OpDef` hold for its kernel, on its own samples: the passes
trust them (commutative, elementwise, linear, shape-only inputs, views, run-time shapes)."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops.registry import BROADCAST, MULTILINEAR, REGISTRY, apply
from graphc.passes.cost import node_bytes, node_flops
from graphc.passes.shapes import runtime_shape

OPS = sorted(name for name, op in REGISTRY.items() if not op.leaf and op.samples is not None)


def samples(name):
    """(arrays, attrs, node built on inputs of those shapes) for each sample of op `name`."""
    for arrays, attrs in REGISTRY[name].samples(np.random.default_rng(0)):
        leaves = [gc.input(f"a{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
        yield list(arrays), attrs, apply(name, *leaves, **attrs)


def run(name, arrays, attrs):
    return np.asarray(REGISTRY[name].kernel(*arrays, **attrs))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].commutative])
def test_a_commutative_op_gives_the_same_result_with_its_inputs_swapped(name):
    for arrays, attrs, _ in samples(name):
        np.testing.assert_array_equal(run(name, arrays, attrs), run(name, arrays[::-1], attrs))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].elementwise])
def test_an_elementwise_op_commutes_with_broadcasting_each_input(name):
    for arrays, attrs, node in samples(name):
        out = run(name, arrays, attrs)
        for k in range(len(arrays)):
            spread = list(arrays)
            spread[k] = np.broadcast_to(arrays[k], np.broadcast_shapes(*(a.shape for a in arrays)))
            np.testing.assert_array_equal(run(name, spread, attrs), out)
        assert out.shape == np.broadcast_shapes(*(a.shape for a in arrays)) == node.shape


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].linear])
def test_a_linear_op_of_zeros_is_zeros(name):
    for arrays, attrs, _ in samples(name):
        for k in REGISTRY[name].linear:
            arrays[k] = np.zeros_like(arrays[k])
        assert not np.any(run(name, arrays, attrs))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].jvp == MULTILINEAR])
def test_a_multilinear_op_is_zeros_when_any_input_is(name):
    for arrays, attrs, _ in samples(name):
        for k in range(len(arrays)):
            zeroed = [np.zeros_like(a) if i == k else a for i, a in enumerate(arrays)]
            assert not np.any(run(name, zeroed, attrs))


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].shape_only])
def test_a_shape_only_input_is_never_read(name):
    for arrays, attrs, _ in samples(name):
        other = [
            np.full_like(a, 7) if k in REGISTRY[name].shape_only else a
            for k, a in enumerate(arrays)
        ]
        np.testing.assert_array_equal(run(name, other, attrs), run(name, arrays, attrs))


@pytest.mark.parametrize("name", OPS)
def test_views_cost_nothing_and_every_op_has_a_cost(name):
    op = REGISTRY[name]
    for _, _, node in samples(name):
        flops, moved = node_flops(node), node_bytes(node)
        assert isinstance(flops, int) and flops >= 0
        assert (moved == 0) == op.view
        if op.view:
            assert flops == 0


@pytest.mark.parametrize("name", OPS)
def test_runtime_shapes_have_one_entry_per_axis_and_keep_static_sizes(name):
    for arrays, attrs, _ in samples(name):
        batched = [
            gc.input(f"b{i}", (None, *a.shape[1:]), a.dtype.name) for i, a in enumerate(arrays)
        ]
        try:
            out = apply(name, *batched, **attrs)
        except gc.GraphError:
            continue  # the op does not take a batch dimension in these positions
        dims = runtime_shape(out)
        assert len(dims) == out.ndim
        assert all(d == s for d, s in zip(dims, out.shape) if s is not None)
        if REGISTRY[name].runtime_shape == BROADCAST and out.ndim and out.shape[0] is None:
            firsts = [runtime_shape(b)[0] for b in batched if b.ndim == out.ndim]
            assert dims[0] in firsts  # the batch size is the inputs' batch size


def test_the_mode_ops_are_never_folded():
    for name, op in REGISTRY.items():
        if op.mode is not None:
            assert not op.foldable, name


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].random])
def test_a_random_op_draws_by_its_seed_and_is_never_folded(name):
    assert not REGISTRY[name].foldable
    for arrays, attrs, _ in samples(name):
        again = run(name, arrays, attrs)
        np.testing.assert_array_equal(run(name, arrays, attrs), again)
        assert not np.array_equal(run(name, arrays, attrs | {"seed": attrs["seed"] + 1}), again)


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].class_ids])
def test_class_ids_name_an_integer_input_and_a_class_count(name):
    for arrays, _, node in samples(name):
        labels, classes = REGISTRY[name].class_ids(node)
        assert labels in node.inputs and labels.dtype.startswith("int")
        assert isinstance(classes, int) and classes > 0
        k = node.inputs.index(labels)
        assert arrays[k].min() >= 0 and arrays[k].max() < classes  # its samples are in range


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].reads_sizes])
def test_an_op_reading_sizes_names_its_axes_and_reads_one_shape_only_input(name):
    op = REGISTRY[name]
    assert len(op.shape_only) == 1
    for _, _, node in samples(name):
        axes = node.attrs[op.reads_sizes]
        assert all(0 <= a < node.inputs[op.shape_only[0]].ndim for a in axes)
