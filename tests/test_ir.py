import sys

import numpy as np
import pytest

import graphc as gc
from graphc.ir import moved, remember_orders, track_moves


def test_topological_order_handles_a_20000_node_chain_without_recursion():
    x = gc.input("x", (3,))
    y = x
    for _ in range(20_000):
        y = y + 1.0
    order = gc.topological_order(y)
    assert len(order) == 1 + 2 * 20_000  # x, then a const and an add per step
    position = {n.id: i for i, n in enumerate(order)}
    assert all(position[i.id] < position[n.id] for n in order for i in n.inputs)
    np.testing.assert_allclose(gc.evaluate(y, {"x": np.zeros(3)}), 20_000.0)


def test_order_is_deterministic_and_shares_subexpressions():
    x = gc.input("x", (2,))
    e = gc.exp(x)
    y = e * e + e
    first = [n.op for n in gc.topological_order(y)]
    assert first == [n.op for n in gc.topological_order(y)]
    assert first.count("exp") == 1


def test_nodes_are_immutable_and_remember_where_they_were_made():
    x = gc.input("x", (2,))
    y, line = gc.exp(x), sys._getframe().f_lineno
    with pytest.raises(AttributeError):
        y.op = "log"
    assert y.site == f"{__file__}:{line}"
    with pytest.raises(gc.GraphError, match="truth value"):
        bool(y > 0)


def test_networkx_view_has_the_attributes():
    x = gc.input("x", (None, 2))
    W = gc.param("W", (2, 3))
    y = gc.named(gc.relu(x @ W), "h")
    graph = gc.to_networkx(y)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 3
    ops = {data["op"] for _, data in graph.nodes(data=True)}
    assert ops == {"input", "param", "matmul", "relu"}
    assert graph.nodes[y.id]["name"] == "h" and graph.nodes[y.id]["shape"] == (None, 3)
    assert graph.nodes[W.id]["dtype"] == "float64"


def test_scope_groups_nodes_and_nests():
    with gc.scope("net"):
        with gc.scope("layer1"):
            h = gc.tanh(gc.input("x", (2,)))
        out = h * 2.0
    assert h.scope == "net/layer1" and out.scope == "net"
    assert gc.exp(h).scope is None


def test_substitute_rebuilds_only_what_changed():
    x, z = gc.input("x", (2,)), gc.input("z", (2,))
    a = gc.exp(x)
    y = a * 3.0
    (y2,) = gc.substitute(y, {x: z})
    assert y2.inputs[0].inputs[0] is z and y2.inputs[1] is y.inputs[1]
    np.testing.assert_allclose(gc.evaluate(y2, {"z": np.zeros(2)}), 3.0)


def test_nodes_are_followed_through_the_rebuilds_of_passes():
    x, z = gc.input("x", (2,)), gc.input("z", (2,))
    a = gc.exp(x)
    y = (a * 1.0) * 3.0
    with track_moves() as moves:
        (y2,) = gc.substitute(y, {x: z})  # every node above x is copied
        (y3,) = gc.optimize(y2).outputs  # a * 1 -> a
    assert moved(moves, y.id) == y3.id and moved(moves, a.id) == y3.inputs[0].id
    assert moved(moves, z.id) == z.id  # never moved
    (y4,) = gc.substitute(y3, {z: x})  # outside the block: not recorded
    assert moved(moves, y.id) == y3.id != y4.id


def test_orders_remembered_within_a_block_are_fresh_lists():
    x = gc.input("x", (2,))
    y = gc.exp(x) * 2.0
    with remember_orders():
        first = gc.topological_order(y)
        first.clear()  # a caller's change stays its own
        assert gc.topological_order(y) == gc.topological_order([y]) != first
        with remember_orders():  # nested: the outer memory
            assert [n.op for n in gc.topological_order(y)][-1] == "mul"
    assert gc.topological_order(y) == gc.topological_order([y])


def test_operators_and_python_numbers():
    x = gc.input("x", (3,))
    v = np.array([1.0, 2.0, 3.0])
    exprs = {
        "2 - x": (2 - x, 2 - v),
        "x / 2": (x / 2, v / 2),
        "2 ** x": (2**x, 2**v),
        "-x": (-x, -v),
        "x ** 2": (x**2, v**2),
        "array * x": (np.ones(3) * x, v),
    }
    for label, (node, want) in exprs.items():
        np.testing.assert_allclose(gc.evaluate(node, {"x": v}), want, err_msg=label)
    assert gc.evaluate(x[..., 1], {"x": v}) == 2.0
    M = gc.input("M", (2, 3))
    np.testing.assert_allclose(
        gc.evaluate(M.T, {"M": np.arange(6.0).reshape(2, 3)}), np.arange(6.0).reshape(2, 3).T
    )
    assert gc.evaluate(x > 1.5, {"x": v}).tolist() == [False, True, True]


def test_float32_graphs_stay_float32():
    x = gc.input("x", (None, 3), dtype="float32")
    W = gc.param("W", (3, 2), dtype="float32")
    y = gc.mean(gc.tanh(x @ W) * 0.5)
    assert y.dtype == "float32"
    values = gc.init_params(y)
    assert values["W"].dtype == np.float32
    out = gc.evaluate(y, values | {"x": np.ones((4, 3))})
    assert out.dtype == np.float32
