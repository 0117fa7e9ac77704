"""Every pass reads what it knows about an op from the op's `OpDef`: ops registered here with
unusual facts (and twins without them) are treated by each pass as those facts say."""

import gc as garbage
import weakref

import numpy as np
import pytest

import graphc as gc
from graphc.ops.registry import REGISTRY, F, OpDef, apply, elementwise, float_like, register
from graphc.passes import (
    eliminate_common_subexpressions,
    eliminate_dead_nodes,
    fold_constants,
    shapes,
    simplify,
)
from graphc.passes.cost import node_bytes, node_flops
from graphc.passes.pattern import P, Rule, var
from graphc.passes.shapes import same_runtime_shape


def _scaled_like_infer(attrs, x, ref):
    return ref.shape, x.dtype


def _hard_tanh_vjp(g, n):
    return F.where(F.greater(F.abs(n.inputs[0]), 1.0), 0.0, g)


OPS = {  # name -> (arity, infer, kernel, facts)
    "hypot": (2, elementwise, np.hypot, {"commutative": True}),
    "hypot_ordered": (2, elementwise, np.hypot, {}),
    "scaled_like": (
        2,
        _scaled_like_infer,
        lambda x, ref: np.broadcast_to(2 * x, np.shape(ref)),
        {"shape_only": (1,), "runtime_shape": lambda n, x, ref: ref},
    ),
    "scaled_like_reads": (
        2,
        _scaled_like_infer,
        lambda x, ref: np.broadcast_to(2 * x, np.shape(ref)),
        {"runtime_shape": lambda n, x, ref: ref},
    ),
    "jitter": (1, float_like, lambda x: x + 0.0, {"foldable": False}),
    "jitter_foldable": (1, float_like, lambda x: x + 0.0, {}),
    "alias": (1, float_like, lambda x: x, {"view": True, "flops": 0}),
    "double": (1, float_like, lambda x: 2 * x, {"linear": (0,), "elementwise": True, "flops": 2}),
    "double_opaque": (1, float_like, lambda x: 2 * x, {}),
    "weighted_sum": (2, elementwise, lambda a, b: a + 2 * b, {"elementwise": True}),
    "weighted_sum_opaque": (2, elementwise, lambda a, b: a + 2 * b, {}),
    "inference_only": (
        1,
        float_like,
        lambda x: x,
        {"mode": lambda inputs, training: None if training else inputs[0]},
    ),
    "hard_tanh": (
        1,
        float_like,
        lambda x: np.clip(x, -1, 1),
        {
            "elementwise": True,
            "saturates": True,
            "vjp": (_hard_tanh_vjp,),
            "jvp": (_hard_tanh_vjp,),
            "nondiff": False,
        },
    ),
}


@pytest.fixture(scope="module", autouse=True)
def unusual_ops():
    """Register the ops for this module only."""
    try:
        for name, (arity, infer, kernel, facts) in OPS.items():
            register(OpDef(name, arity, infer, kernel=kernel, **({"nondiff": True} | facts)))
        yield
    finally:
        for name in OPS:
            REGISTRY.pop(name, None)


def test_cse_and_patterns_swap_the_inputs_of_a_commutative_op_only():
    a, b = gc.input("a", (3,)), gc.input("b", (3,))
    for op, merged in (("hypot", 1), ("hypot_ordered", 0)):
        _, counts = eliminate_common_subexpressions([apply(op, a, b) + apply(op, b, a)])
        assert counts["merged"] == merged, op
        rule = Rule("hypot(b, x)", P(op, var("x"), P("input", bind="b", test=lambda n: n is b)), 0)
        assert bool(rule.pattern.match(apply(op, b, a), {})) == bool(merged), op


def test_folding_reads_only_the_shape_of_a_shape_only_input():
    ref = gc.input("ref", (2, 3))
    for op, folds in (("scaled_like", 1), ("scaled_like_reads", 0)):
        (out,), counts = fold_constants([apply(op, gc.const(1.5), ref)])
        assert counts["folded"] == folds, op
        if folds:
            np.testing.assert_array_equal(out.attrs["value"], np.full((2, 3), 3.0))


def test_dead_node_elimination_repoints_a_shape_only_input():
    x = gc.input("x", (None, 3))
    expensive = gc.exp(gc.tanh(x))  # needed only for its shape by scaled_like
    for op, kept in (("scaled_like", False), ("scaled_like_reads", True)):
        (out,), _ = eliminate_dead_nodes([apply(op, gc.const(1.0), expensive)])
        ops = {n.op for n in gc.topological_order(out)}
        assert ("tanh" in ops) == kept, op


def test_folding_leaves_a_non_foldable_op_alone():
    for op, folds in (("jitter", 0), ("jitter_foldable", 1)):
        _, counts = fold_constants([apply(op, gc.const(np.ones(3)))])
        assert counts["folded"] == folds, op


def test_the_cost_table_reads_views_and_flops():
    x = gc.input("x", (4, 3))
    assert node_bytes(apply("alias", x)) == 0 and node_flops(apply("alias", x)) == 0
    assert node_bytes(apply("double", x)) == 2 * 12 * 8 and node_flops(apply("double", x)) == 24
    assert node_flops(apply("double_opaque", x)) == 12  # the default: 1 per element


def test_simplify_turns_a_linear_op_of_zeros_into_zeros():
    zeros = F.broadcast_like(0.0, gc.input("x", (None, 3)))
    for op, fired in (("double", 1), ("double_opaque", 0)):
        _, counts = simplify([apply(op, zeros)])
        assert counts["linear(0)"] == fired, op


def test_simplify_drops_a_broadcast_into_an_elementwise_op():
    a, ref = gc.input("a", (3,)), gc.input("r", (None, 3))
    for op, fired in (("weighted_sum", 1), ("weighted_sum_opaque", 0)):
        (out,), counts = simplify([apply(op, F.broadcast_like(a, ref), ref)])
        assert counts["f(broadcast)"] == fired, op
        assert ("broadcast_like" in {n.op for n in gc.topological_order(out)}) != fired


def test_runtime_shapes_follow_the_ops_rule():
    x = gc.input("x", (None, 3))
    assert same_runtime_shape(apply("double", x), x)  # elementwise: broadcast of its input
    assert not same_runtime_shape(apply("double_opaque", x), x)  # no rule: a size of its own
    y = gc.input("y", (None, 3))
    assert same_runtime_shape(apply("scaled_like", gc.const(1.0), y), y)


def test_specialize_resolves_an_op_by_its_mode_rule():
    x = gc.input("x", (3,))
    out = apply("inference_only", x) * 2.0
    (infer,), (train,) = gc.specialize(out, False), gc.specialize(out, True)
    assert [n.op for n in gc.topological_order(infer)] == ["input", "const", "mul"]
    assert "inference_only" in {n.op for n in gc.topological_order(train)}


def test_saturation_reports_every_op_that_saturates_by_default():
    x = gc.input("x", (None, 2))
    out = gc.sum(apply("hard_tanh", x) + gc.tanh(x))
    report = gc.saturation(out, {"x": np.array([[3.0, 0.5], [-2.0, 0.1]])})
    assert [layer.op for layer in report.layers] == ["hard_tanh", "tanh"]
    assert report.layers[0].saturated == 0.5 and report.layers[0].dead_units == 0.5


def test_register_refuses_facts_that_cannot_hold():
    ident = (lambda g, n: g, lambda g, n: g)
    with pytest.raises(gc.GraphError, match="vjp cannot be MULTILINEAR"):
        register(OpDef("bad_linear", 1, float_like, vjp="multilinear", jvp="multilinear"))
    with pytest.raises(gc.GraphError, match="only a binary op can be commutative"):
        register(OpDef("bad_comm", 1, float_like, nondiff=True, commutative=True))
    with pytest.raises(gc.GraphError, match="out of range"):
        register(OpDef("bad_pos", 2, elementwise, vjp=ident, jvp=ident, shape_only=(2,)))
    assert not {"bad_linear", "bad_comm", "bad_pos"} & set(REGISTRY)


def test_passes_and_evaluation_keep_no_graph_alive_after_they_return():
    """The symbolic shapes a pass learns live in its own scope, and evaluation caches no
    plan: a graph that was optimized and evaluated is freed with its last reference."""
    before = len(shapes._DEFAULT.parent)
    refs = []
    for _ in range(3):
        x = gc.input("x", (None, 3))
        w = gc.param("w", (3,), init=0.5)
        loss = gc.mean(gc.tanh(x * w) + gc.relu(x))
        step = gc.optimize([loss, *gc.grad(loss, [w])]).outputs
        gc.evaluate(step, gc.init_params(loss) | {"x": np.ones((2, 3))})
        refs.append(weakref.ref(step[0]))
        del x, w, loss, step
    garbage.collect()
    assert all(ref() is None for ref in refs)
    assert len(shapes._DEFAULT.parent) == before
