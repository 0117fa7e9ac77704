"""One test per simplification rule, the optimize report, and the cost table."""

import json

import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network
from graphc.ops.registry import F
from graphc.passes import eliminate_common_subexpressions, simplify
from graphc.passes.cost import node_flops

x = gc.input("x", (None, 3))
v = gc.input("v", (3,))
c = gc.input("c", (None, 3))
ZEROS = F.broadcast_like(0.0, x)
COND = x > c

# (expression, the ops left after simplify, the rule that fires)
CASES = [
    (x * 1.0, ["input"], "x*1"),
    (1.0 * x, ["input"], "x*1"),
    (x / 1.0, ["input"], "x/1"),
    (x + 0.0, ["input"], "x+0"),
    (x - 0.0, ["input"], "x-0"),
    (0.0 - x, ["input", "neg"], "0-x"),
    (F.neg(F.neg(x)), ["input"], "--x"),
    (3.0 * x + 3.0 * x, ["const", "input", "mul"], None),  # after CSE: c*y + c*y
    (x + x, ["input", "add"], None),  # 2*x would need one more node
    (0.25 * (3.0 * x), ["const", "input", "mul"], "c*(c*x)"),
    (3.0 * (3.0 * x), ["const", "input", "mul", "mul"], None),  # 9.0 * x would round
    (gc.exp(gc.log(x)), ["input"], "exp(log x)"),
    (gc.transpose(gc.transpose(x)), ["input"], "T(T(x))"),
    (F.sum_to(x, shape=(None, 3)), ["input"], "sum_to(x)=x"),
    (F.broadcast_like(x, gc.tanh(x)), ["input"], "broadcast(x)=x"),
    (x * ZEROS, ["const", "input", "broadcast_like"], "x*0"),
    (gc.sum(-F.broadcast_like(0.0, v)) + 0.0, ["const"], "linear(0)"),
    (
        gc.where(COND, x, 0.0) + gc.where(COND, 0.0, c),
        ["input", "input", "greater", "where"],
        "where+where",
    ),
    (gc.where(COND, x, x) * 2.0, ["input", "const", "mul"], "where(c,x,x)"),
    (x + -v, ["input", "input", "sub"], "x+-y"),
    (-(2.0 * x), ["const", "input", "mul"], "-(c*x)"),
    (F.broadcast_like(v, x) * x, ["input", "input", "mul"], "f(broadcast)"),
    (gc.const(np.full((1, 1), 0.5)) * x, ["const", "input", "mul"], "f([[c]])"),
    (
        F.broadcast_like(F.broadcast_like(1.0, v), x),
        ["const", "input", "broadcast_like"],
        "broadcast(broadcast)",
    ),
]


@pytest.mark.parametrize("expr, left, rule", CASES, ids=[str(k) for k in range(len(CASES))])
def test_each_rule_simplifies_and_keeps_values(expr, left, rule, rng):
    (out,), fired = simplify(eliminate_common_subexpressions([expr])[0])
    assert sorted(n.op for n in gc.topological_order(out)) == sorted(left)
    if rule is not None:
        assert fired[rule] >= 1
    values = {
        "x": rng.uniform(0.5, 2, (4, 3)),
        "v": rng.normal(size=3),
        "c": rng.normal(size=(4, 3)),
    }
    want = gc.evaluate(expr, values)
    got = gc.evaluate(out, values)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-15)  # exact but for exp(log x)


def test_rules_never_change_the_shape_or_dtype_of_a_result():
    row = gc.input("row", (3,))
    grown = row + gc.const(np.zeros((2, 3)))  # x+0 would lose the (2, 3) shape
    narrowed = gc.input("f", (3,), "float32") * gc.const(np.ones(3))  # float64 result
    (a, b), fired = simplify([grown, narrowed])
    assert a.shape == (2, 3) and b.dtype == "float64" and sum(fired.values()) == 0


def test_zeros_are_strong_even_against_inf_and_nan():
    """The documented choice: 0 * x is 0 after simplify, though IEEE says nan for inf."""
    (out,), _ = simplify([x * ZEROS])
    values = {"x": np.array([[np.inf, np.nan, 1.0]])}
    assert np.isnan(gc.evaluate(x * ZEROS, values)[0, :2]).all()
    np.testing.assert_array_equal(gc.evaluate(out, values), 0.0)


def test_optimize_reports_each_pass_and_can_be_serialized():
    loss, _ = lecture_network(4, 3)
    grads = gc.grad(loss, gc.params(loss))
    result = gc.optimize(grads)
    assert [s.name for s in result.steps] == list(gc.passes.DEFAULT_PASSES)
    info = json.loads(json.dumps(result.to_dict()))
    assert info["nodes_before"] == 47 and info["nodes_after"] == result.nodes_after
    assert sum(p["removed"] for p in info["passes"]) == 47 - result.nodes_after
    fuse_step = next(s for s in result.steps if s.name == "fuse")
    assert fuse_step.counts["fused"] == 5 and fuse_step.counts["softmax_xent_grad"] == 1
    assert len(fuse_step.nodes_before) - len(fuse_step.nodes_after) == fuse_step.removed > 0
    text = str(result)
    assert "optimize: 47 ->" in text and "fuse" in text and "softmax_xent_grad x1" in text


def test_optimize_takes_pass_names_or_functions_and_refuses_unknown_ones():
    y = gc.exp(x) * 1.0
    assert gc.optimize(y, passes="simplify").output.op == "exp"
    result = gc.optimize(y, passes=["simplify", lambda outs: (outs, {})])
    assert result.output.op == "exp" and result.steps[1].name == "<lambda>"
    with pytest.raises(gc.GraphError, match="unknown pass 'inline'.*known passes: dce"):
        gc.optimize(y, passes=["inline"])
    with pytest.raises(gc.GraphError, match="2 outputs"):
        _ = gc.optimize([y, y]).output
    with pytest.raises(gc.GraphError, match="passes must be pass names or functions, got 5"):
        gc.optimize(y, passes=5)  # was a raw TypeError


def test_cost_table_counts_matmul_flops_and_reads_the_cheap_gradient_ratio():
    loss, _ = lecture_network(64, 10)
    table = gc.cost_table(loss, {"x": (32, 64)})
    matmuls = [r for r in table.rows if r["op"] == "matmul"]
    assert [r["flops"] for r in matmuls] == [2 * 32 * 64 * 10] * 2
    assert {r["part"] for r in matmuls} == {"forward", "backward"}
    assert 1.5 < table.ratio < 3.0
    forward_part = sum(r["flops"] for r in table.rows if r["part"] == "forward")
    assert table.backward_flops == table.gradient_flops - forward_part
    # the step computes the loss as forward does, but its log_softmax is shared with the
    # backward: the log-probabilities are materialized (a subtraction per logit), then picked
    assert forward_part == table.forward_flops + 32 * 10 + 32
    assert next(iter(table.by_op())) == "matmul"
    assert table.by_op()["matmul"] == {
        "flops": 2 * 2 * 32 * 64 * 10,
        "bytes": 2 * 8 * (32 * 64 + 64 * 10 + 32 * 10),
        "nodes": 2,
    }
    info = json.loads(json.dumps(table.to_dict(), default=list))
    assert info["ratio"] == pytest.approx(table.ratio)
    assert "cheap-gradient ratio" in str(table)
    by_value = gc.cost_table(loss, {"x": np.zeros((32, 64)), "y": np.zeros(32, int)})
    assert by_value.gradient_flops == table.gradient_flops
    assert gc.cost_table(loss, batch=32).forward_flops == table.forward_flops


def test_cost_table_needs_a_batch_size_and_shapes_that_fit():
    loss, _ = lecture_network(4, 3)
    with pytest.raises(gc.GraphError, match="input '[xy]' .* batch dimension; give batch="):
        gc.cost_table(loss)
    with pytest.raises(gc.ShapeError, match="shape \\(8, 5\\) given for input 'x'"):
        gc.cost_table(loss, {"x": (8, 5)}, batch=8)
    with pytest.raises(gc.GraphError, match="no input named 'X'; the graph's inputs are x, y"):
        gc.cost_table(loss, {"X": (8, 4)}, batch=8)
    with pytest.raises(gc.GraphError, match="batch must be a positive int, got 0"):
        gc.cost_table(loss, batch=0)
    with pytest.raises(gc.GraphError, match="batch must be a positive int, got True"):
        gc.cost_table(loss, batch=True)
    with pytest.raises(gc.ShapeError, match=r"shape \(None, 4\) given for input 'x' must hold"):
        gc.cost_table(loss, {"x": (None, 4)})  # was a raw TypeError from int(None)


def test_node_flops_of_reductions_views_and_fused_ops():
    a = gc.input("a", (8, 4))
    assert node_flops(gc.sum(a, axis=0)) == 32
    assert node_flops(gc.transpose(a)) == 0
    assert node_flops(gc.softmax(a)) == 5 * 32
    assert node_flops(F.prelu_vjp_alpha(a, gc.input("r", (4,)), shape=(4,))) == 4 * 32
    assert node_flops(F.target_log_prob(a, gc.input("labels", (8,), "int64"))) == 4 * 32


def test_a_rewritten_node_keeps_its_name_unless_that_would_duplicate_a_shared_node():
    h = gc.tanh(x)
    fresh = gc.named(-(2.0 * x), "y")
    shared = gc.named(h * 1.0, "z")
    (a, b, c2), _ = simplify([fresh, shared, h + 1.0])
    assert a.name == "y" and a.op == "mul"
    assert b is c2.inputs[0] and b.name is None  # still the one tanh node


def test_passes_handle_a_5000_step_chain_without_recursion():
    y = v
    for _ in range(5_000):
        y = (y + 0.0) * 1.0
    result = gc.optimize(y)
    assert result.output is v and result.nodes_before == 1 + 4 * 5_000
