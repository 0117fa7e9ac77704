"""Every pass keeps values (random graphs and their gradients, both modes), and each does its
own job: merging, folding, simplifying, fusing, dropping shape-only uses."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc.demo import lecture_network
from graphc.ops.registry import FLOAT_DTYPES, REGISTRY, F, apply
from graphc.passes import (
    eliminate_common_subexpressions,
    eliminate_dead_nodes,
    fold_constants,
    fuse,
    optimize,
)
from graphs import random_graphs
from test_registry import MODE_OPS, OPS, sample_nodes

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALL = ["dce", "cse", "fold", "simplify", "fuse", None]  # None: the default pipeline


def run(outputs, passes):
    return optimize(outputs, passes=None if passes is None else [passes]).outputs


def assert_same_values(before, after, values, training=False):
    try:
        want = gc.evaluate(before, values, training=training)
    except gc.EvaluationError:  # static shapes allow a batch of 1 where 4 does not fit
        assume(False)
    for a, b in zip(want, gc.evaluate(after, values, training=training)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def gradient_case(rng, n_in=5, n_classes=3, batch=7):
    loss, logits = lecture_network(n_in, n_classes, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(batch, n_in)),
        "y": rng.integers(0, n_classes, batch),
        "alpha": rng.normal(size=n_classes),
    }
    return loss, [loss, logits, *gc.grad(loss, gc.params(loss))], values


@pytest.mark.parametrize("passes", ALL)
@SETTINGS
@given(case=random_graphs())
def test_each_pass_keeps_the_values_of_random_graphs(passes, case):
    outputs, values = case
    assert_same_values(outputs, run(outputs, passes), values)


@SETTINGS
@given(case=random_graphs())
def test_optimizing_twice_changes_nothing_more(case):
    once = optimize(case[0])
    assert optimize(once.outputs).nodes_after == once.nodes_after <= once.nodes_before


@pytest.mark.parametrize("passes", ALL)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=random_graphs(max_ops=6))
def test_each_pass_keeps_the_values_of_random_gradient_graphs(passes, case):
    outputs, values = case
    y = sum((gc.sum(o) for o in outputs[1:]), gc.sum(outputs[0]))
    wrt = gc.params(y) + gc.inputs(y)
    try:
        graph = [y, *gc.grad(y, wrt)]
    except gc.ShapeError:  # reverse mode cannot sum a batch dim down to a static one
        assume(False)
    assert_same_values(graph, run(graph, passes), values)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("passes", ALL)
def test_batch_norm_and_dropout_graphs_keep_values_in_both_modes(passes, training, rng):
    x, y = gc.input("x", (None, 4)), gc.input("y", (None,), "int64")
    W = gc.param("W", (4, 5), init="he_normal")
    h = gc.dropout(
        gc.relu(
            gc.batch_norm(x @ W, gc.param("g", (5,), init=1.0), gc.param("be", (5,)), name="bn")
        ),
        0.3,
        seed=1,
    )
    loss = gc.softmax_cross_entropy(h @ gc.param("V", (5, 3)), y) + 0.01 * gc.l2(W)
    graph = [loss, *gc.grad(loss, gc.params(loss))]
    values = gc.init_params(loss) | {"x": rng.normal(size=(6, 4)), "y": rng.integers(0, 3, 6)}
    after = run(graph, passes)
    assert_same_values(graph, after, values, training)
    updates_before, updates_after = {}, {}
    gc.evaluate(graph, values, training=True, updates=updates_before)
    gc.evaluate(after, values, training=True, updates=updates_after)
    assert updates_before.keys() == updates_after.keys() == {"bn.running_mean", "bn.running_var"}


def test_the_lecture_gradient_graph_shrinks_and_keeps_its_values(rng):
    loss, graph, values = gradient_case(rng)
    result = optimize(graph[2:])
    assert result.nodes_before == 47 and result.nodes_after <= 21
    assert_same_values(graph[2:], result.outputs, values)
    ops = [n.op for n in gc.topological_order(result.outputs)]
    assert {"softmax_xent_grad", "prelu_vjp_x", "prelu_vjp_alpha"} <= set(ops)
    full = [n.op for n in gc.topological_order(optimize(graph).outputs)]
    assert "target_log_prob" in full and "one_hot" not in full
    assert "log_softmax" not in ops  # the forward loss was needed only for the batch size


def test_fusion_handles_float32_probability_targets_and_label_shapes(rng):
    z = gc.input("z", (None, 4), "float32")
    t = gc.input("t", (None, 4), "float32")
    loss = gc.softmax_cross_entropy(z, t)
    (g,) = gc.grad(loss, [z])
    (fused,), counts = fuse([g])
    assert counts["softmax_xent_grad"] == 1
    assert [n.op for n in gc.topological_order(fused)].count("softmax_xent_grad") == 1
    p = rng.dirichlet(np.ones(4), size=5).astype("float32")
    values = {"z": rng.normal(size=(5, 4)).astype("float32"), "t": p}
    np.testing.assert_allclose(
        gc.evaluate(fused, values), gc.evaluate(g, values), rtol=1e-5, atol=1e-7
    )
    assert gc.evaluate(fused, values).dtype == np.float32


def test_an_out_of_range_label_is_refused_not_a_zero_row(rng):
    loss, graph, values = gradient_case(rng)
    values["y"] = np.array([0, 1, 2, 3, -1, 2, 0])  # 3 and -1 would be one_hot rows of zeros
    with pytest.raises(gc.GraphError, match=r"'y' holds the class id -1, outside 0..2"):
        gc.evaluate(graph, values)


def test_cse_merges_repeats_commutes_and_merges_equal_consts_but_never_leaves():
    x, z = gc.input("x", (3,)), gc.input("z", (3,))
    a = gc.exp(x) * 2.0 + 2.0 * gc.exp(x)
    b = (x + z) - (z + x)
    out, counts = eliminate_common_subexpressions([a, b, gc.input("x2", (3,))])
    ops = [n.op for n in gc.topological_order(out)]
    assert ops.count("exp") == 1 and ops.count("mul") == 1 and ops.count("add") == 2
    assert ops.count("const") == 1 and ops.count("input") == 3 and counts["merged"] == 4


def test_fold_evaluates_const_subgraphs_with_the_kernels_but_not_mode_ops_or_big_arrays():
    c = gc.const(np.arange(3.0))
    x = gc.input("x", (3,))
    y = x * gc.exp(c) + gc.sum(c * c)
    masked = gc.dropout(c, 0.5, seed=3)
    zeros = F.broadcast_like(0.0, gc.param("W", (300, 300)))  # static shape, but 720 kB
    out, counts = fold_constants([y, masked, zeros])
    assert counts["folded"] == 3  # exp(c), c*c, sum(c*c)
    ops = [n.op for n in gc.topological_order(out)]
    assert "exp" not in ops and "dropout_mask" in ops and "broadcast_like" in ops
    values = {"x": np.ones(3), "W": np.zeros((300, 300))}
    for training in (False, True):
        assert_same_values([y, masked, zeros], out, values, training)


def test_fold_turns_static_sizes_into_numbers_and_leaves_batch_sizes_alone():
    out, counts = fold_constants([gc.mean(gc.input("v", (None, 3)))])
    assert counts["folded"] == 0  # the batch size is known only at run time
    out, counts = fold_constants([F.axis_size(gc.input("x", (5, 3)), axis=(0,))])
    assert counts["folded"] == 1 and out[0].op == "const" and out[0].attrs["value"] == 5


def test_dce_points_shape_only_uses_at_nodes_computed_anyway(rng):
    x, s = gc.input("x", (None, 3)), gc.param("s", ())
    g = gc.grad(gc.mean(gc.tanh(x) + s), s)  # reads tanh(x) + s only for its shape
    (out,), counts = eliminate_dead_nodes([g])
    assert counts["repointed"] >= 1
    assert "tanh" in [n.op for n in gc.topological_order(g)]
    assert "tanh" not in [n.op for n in gc.topological_order(out)]
    values = {"x": rng.normal(size=(4, 3)), "s": np.array(0.5)}
    assert_same_values([g], [out], values)
    assert gc.evaluate(out, values) == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(
    n_in=st.integers(1, 5),
    hidden=st.integers(1, 5),
    classes=st.integers(2, 5),
    batch=st.integers(1, 6),
    int_labels=st.booleans(),
    per_unit=st.booleans(),
    dtype=st.sampled_from(["float64", "float32"]),
    mean=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fusion_fires_on_random_prelu_softmax_networks_and_keeps_values(
    n_in, hidden, classes, batch, int_labels, per_unit, dtype, mean, seed
):
    rng = np.random.default_rng(seed)
    x = gc.input("x", (None, n_in), dtype)
    W1 = gc.param("W1", (n_in, hidden), "he_normal", dtype)
    alpha = gc.param("alpha", (hidden,) if per_unit else (), 0.25, dtype)
    W2 = gc.param("W2", (hidden, classes), "he_normal", dtype)
    logits = gc.prelu(x @ W1, alpha) @ W2
    if int_labels:
        y = gc.input("y", (None,), "int64")
        labels = rng.integers(0, classes, batch)
    else:
        y = gc.input("y", (None, classes), dtype)
        labels = rng.dirichlet(np.ones(classes), size=batch).astype(dtype)
    if mean:
        loss = gc.softmax_cross_entropy(logits, y)
    else:  # a sum over the batch: the scale is a plain -1
        target = gc.one_hot(y, classes, dtype) if int_labels else y
        loss = -gc.sum(target * gc.log_softmax(logits))
    grads = gc.grad(loss, gc.params(loss))
    result = optimize([loss, *grads])
    fused = next(s for s in result.steps if s.name == "fuse").counts
    assert fused["softmax_xent_grad"] == 1 and fused["prelu_vjp_x"] == 1
    assert fused["prelu_vjp_alpha"] == 1
    assert fused["target_log_prob"] == (1 if mean else 0)  # the sum form sums all axes at once
    values = gc.init_params(loss) | {"x": rng.normal(size=(batch, n_in)).astype(dtype), "y": labels}
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in zip(gc.evaluate([loss, *grads], values), gc.evaluate(result.outputs, values)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


@pytest.mark.parametrize("target", ["fast", "readable", "jax"])
def test_an_optimized_graph_saves_loads_and_lowers_with_its_fused_ops(rng, tmp_path, target):
    if target == "jax":
        pytest.importorskip("jax").config.update("jax_enable_x64", True)
    loss, graph, values = gradient_case(rng)
    optimized = optimize(graph).outputs
    path = tmp_path / "optimized.json"
    gc.save(optimized, path)
    loaded = gc.load(path)
    assert_same_values(graph, loaded, values)
    leaves = gc.inputs(optimized) + gc.params(optimized)
    lowered = gc.lower(optimized, leaves, target=target)
    got = lowered(*[values[n.name] for n in leaves])
    for a, b in zip(gc.evaluate(graph, values), got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_symbolic_runtime_shapes_follow_ops_and_unify_batch_dims_that_meet():
    from graphc.passes.shapes import runtime_shape, same_runtime_shape

    x, y = gc.input("x", (None, 3)), gc.input("y", (None,), "int64")
    z = x @ gc.param("W", (3, 4))
    assert same_runtime_shape(gc.exp(z), z) and not same_runtime_shape(gc.one_hot(y, 4), z)
    runtime_shape(gc.one_hot(y, 4) * z)  # the batch dims meet: graphc's None is one size
    assert same_runtime_shape(gc.one_hot(y, 4), z)
    assert runtime_shape(gc.sum(z, axis=1, keepdims=True))[1] == 1
    assert runtime_shape(gc.transpose(z)) == runtime_shape(z)[::-1]
    flat = gc.reshape(x, (-1,))  # 3 * batch elements: a size of its own
    assert runtime_shape(flat)[0] != runtime_shape(x)[0]


def test_fold_is_as_quiet_as_evaluation_about_ieee_specials():
    y = gc.input("x", (None, 2)) + gc.log(gc.const(np.array([0.0, 1.0])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # evaluation ignores them; folding must too
        (out,), counts = fold_constants([y])
    assert counts["folded"] == 1
    assert_same_values([y], [out], {"x": np.ones((3, 2))})


def test_fusion_leaves_integer_per_class_weights_alone(rng):
    z = gc.input("z", (3, 3))
    weighted = gc.const(np.full((3, 1), 0.5)) * gc.const(np.array([1, 2, 3]))
    g = weighted - F.softmax(z, axis=1) * F.sum(weighted, axis=1, keepdims=True)
    (fused,), counts = fuse([g])
    assert counts["fused"] == 0  # int weights of one row are not class ids
    assert_same_values([g], [fused], {"z": rng.normal(size=(3, 3))})


@pytest.mark.parametrize("name", sorted(set(OPS) - MODE_OPS))
def test_every_pass_keeps_every_ops_value_and_gradient(name, rng):
    """Each op built twice on its samples (a repeat CSE merges), with the gradient of both:
    every pass, and the pipeline, keep the values (the op is checked by being registered)."""
    op = REGISTRY[name]
    for node, feed in sample_nodes(name, rng):
        outputs = [node, apply(name, *node.inputs, **dict(node.attrs))]
        floats = [i for i in node.inputs if i.dtype in FLOAT_DTYPES]
        if node.dtype in FLOAT_DTYPES and floats and not op.nondiff:
            outputs += gc.grad(gc.sum(outputs[0] * outputs[1]), floats)
        for passes in ALL:
            result = optimize(outputs, passes=None if passes is None else [passes])
            assert_same_values(outputs, result.outputs, feed)
        assert optimize(outputs, passes=["cse"]).steps[0].counts["merged"] >= 1
