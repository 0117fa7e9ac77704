"""The sequence ops' own behaviour beyond the registry-wide checks: bad input gets one
clear error naming the user's line, and the builders keep torch's conventions."""

import numpy as np
import pytest

import graphc as gc

HERE = "test_sequence.py:"


def test_a_mask_that_does_not_broadcast_is_refused_at_the_users_line():
    x = gc.input("x", (None, 5))
    with pytest.raises(gc.ShapeError, match=HERE + r".*mask of shape \(4,\) does not broadcast"):
        gc.softmax(x, mask=gc.input("m", (4,), "bool"))
    with pytest.raises(gc.DtypeError, match=HERE + r".*mask must be boolean"):
        gc.softmax(x, mask=gc.input("m", (5,)))


def test_a_masked_entry_gets_probability_zero_and_no_gradient():
    x = gc.param("x", (2, 3))
    mask = np.array([[True, False, True], [False, False, True]])
    p = gc.softmax(x, mask=mask)
    values = {"x": np.array([[1.0, 50.0, 2.0], [3.0, -1.0, 0.5]])}
    got = gc.evaluate(p, values)
    assert np.all(got[~mask] == 0) and np.allclose(got.sum(axis=1), 1)
    (g,) = gc.evaluate(gc.grad(gc.sum(p * np.arange(6.0).reshape(2, 3)), [x]), values)
    assert np.all(g[~mask] == 0)


def test_var_needs_degrees_of_freedom_and_a_whole_correction():
    with pytest.raises(gc.GraphError, match=HERE + r".*no degrees of freedom"):
        gc.var(gc.input("x", (1, 3)), axis=0)
    with pytest.raises(gc.GraphError, match=HERE + r".*correction must be"):
        gc.var(gc.input("x", (4, 3)), correction=0.5)


def test_var_over_the_batch_axis_counts_rows_at_run_time():
    x = gc.input("x", (None, 3))
    rows = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_allclose(gc.evaluate(gc.var(x, axis=0), {"x": rows}), rows.var(0, ddof=1))
    np.testing.assert_allclose(gc.evaluate(gc.std(x, axis=0), {"x": rows}), rows.std(0, ddof=1))


def test_layer_norm_refuses_parameters_of_the_wrong_size():
    x = gc.input("x", (None, 4))
    with pytest.raises(gc.ShapeError, match=HERE + r".*gamma has shape \(3,\)"):
        gc.layer_norm(x, gc.param("g", (3,)), gc.param("b", (4,)))


def test_ids_of_a_float_dtype_are_refused_at_the_users_line():
    table = gc.param("table", (5, 3))
    with pytest.raises(gc.DtypeError, match=HERE + r".*ids must be integers.*float64"):
        gc.embedding(gc.input("ids", (None, 4)), table)


def test_an_id_outside_the_table_is_refused_where_data_enters():
    ids = gc.input("ids", (None, 4), "int64")
    out = gc.embedding(ids, gc.param("table", (5, 3)))
    bad = {"ids": np.array([[0, 1, 5, 2]]), "table": np.zeros((5, 3))}
    with pytest.raises(gc.ShapeError, match=r"'ids' holds the id 5, outside 0..4 .*5 rows"):
        gc.evaluate(out, bad)
    lowered = gc.lower(out)
    with pytest.raises(gc.ShapeError, match=r"holds the id 5, outside 0..4"):
        lowered(*[bad[a] for a in lowered.args])


def test_the_embedding_gradient_adds_rows_picked_twice():
    ids = gc.input("ids", (None, 3), "int64")
    table = gc.param("table", (4, 2))
    loss = gc.sum(gc.embedding(ids, table))
    values = {"ids": np.array([[1, 1, 3]]), "table": np.zeros((4, 2))}
    (g,) = gc.evaluate(gc.grad(loss, [table]), values)
    np.testing.assert_array_equal(g, [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_indexing_follows_numpy_and_refuses_what_it_cannot_do():
    x = gc.input("x", (None, 5, 3))
    v = np.arange(30.0).reshape(2, 5, 3)
    for key in [(slice(None), 1), (slice(None), -1), (Ellipsis, 1), (slice(None), slice(1, None))]:
        np.testing.assert_array_equal(gc.evaluate(x[key], {"x": v}), v[key])
    np.testing.assert_array_equal(gc.evaluate(x[:, ::2, -2], {"x": v}), v[:, ::2, -2])
    with pytest.raises(gc.ShapeError, match=HERE + r".*index 5 is out of range for axis 1"):
        x[:, 5]
    with pytest.raises(gc.ShapeError, match=HERE + r".*batch axis 0"):
        x[0]
    with pytest.raises(gc.GraphError, match=HERE + r".*ints, slices and \.\.\."):
        x[:, [1, 2]]
    with pytest.raises(gc.ShapeError, match=HERE + r".*step must be a positive int"):
        x[:, ::-1]


def test_split_concat_and_stack_round_trip():
    x = gc.input("x", (None, 5, 3))
    v = np.random.default_rng(0).normal(size=(2, 5, 3))
    parts = gc.split(x, 2, axis=1)
    assert [p.shape for p in parts] == [(None, 2, 3), (None, 2, 3), (None, 1, 3)]
    np.testing.assert_array_equal(gc.evaluate(gc.concat(parts, axis=1), {"x": v}), v)
    steps = [x[:, t] for t in range(5)]
    np.testing.assert_array_equal(gc.evaluate(gc.stack(steps, axis=1), {"x": v}), v)
    with pytest.raises(gc.ShapeError, match=HERE + r".*do not add up to the 5 entries"):
        gc.split(x, [2, 2], axis=1)
    with pytest.raises(gc.ShapeError, match=HERE + r".*batch"):
        gc.concat([x, x], axis=0)


def test_mismatched_hidden_sizes_are_refused_at_the_users_line():
    x, h = gc.input("x", (None, 4)), gc.input("h", (None, 6))
    w_ih, w_hh = gc.param("w_ih", (24, 4)), gc.param("w_hh", (24, 5))
    with pytest.raises(gc.ShapeError, match=HERE + r".*w_hh has shape \(24, 5\), expected"):
        gc.lstm_cell(x, (h, h), w_ih, w_hh)
    with pytest.raises(gc.ShapeError, match=HERE + r".*cell state \(None, 5\)"):
        gc.lstm_cell(x, (h, gc.input("c", (None, 5))), w_ih, gc.param("w", (24, 6)))


def test_unroll_refuses_a_time_axis_of_unknown_length():
    xs = gc.input("xs", (None, None, 4))
    with pytest.raises(gc.ShapeError, match=HERE + r".*length is unknown"):
        gc.unroll(lambda x, h: x, xs, None)


def test_unroll_runs_one_scope_per_step_and_equals_the_loop_by_hand(rng):
    xs, h0 = gc.input("xs", (None, 3, 2)), gc.input("h0", (None, 4))
    w = [gc.param("w_ih", (4, 2)), gc.param("w_hh", (4, 4))]
    hidden, last = gc.unroll(lambda x, h: gc.rnn_cell(x, h, *w), xs, h0)
    assert len(hidden) == 3 and hidden[-1] is last
    assert {n.scope for n in gc.topological_order(last) if n.op == "tanh"} == {
        "step1/rnn_cell",
        "step2/rnn_cell",
        "step3/rnn_cell",
    }
    values = {"xs": rng.normal(size=(2, 3, 2)), "h0": rng.normal(size=(2, 4))}
    values |= {"w_ih": rng.normal(size=(4, 2)), "w_hh": rng.normal(size=(4, 4))}
    h = values["h0"]
    for t in range(3):
        h = np.tanh(values["xs"][:, t] @ values["w_ih"].T + h @ values["w_hh"].T)
    np.testing.assert_allclose(gc.evaluate(last, values), h, rtol=1e-14)


def test_attention_refuses_a_mask_with_causal_and_shapes_that_do_not_fit():
    q = gc.input("q", (None, 5, 4))
    with pytest.raises(gc.GraphError, match=HERE + r".*a mask or causal=True, not both"):
        gc.attention(q, q, q, mask=np.ones((5, 5), bool), causal=True)
    with pytest.raises(gc.ShapeError, match=HERE + r".*do not fit"):
        gc.attention(q, gc.input("k", (None, 5, 3)), q)
    with pytest.raises(gc.ShapeError, match=HERE + r".*mask of shape \(4, 5\) does not broadcast"):
        gc.attention(q, q, q, mask=np.ones((4, 5), bool))


def test_a_sequence_model_and_its_gradient_lower_to_what_evaluate_computes(rng):
    """Embedding, attention, layer norm, slicing and an unrolled LSTM over a batch axis of
    unknown size: the lowered function (two batch sizes) equals the interpreter."""
    ids = gc.input("ids", (None, 4), "int64")
    table = gc.param("table", (6, 3))
    e = gc.embedding(ids, table)
    a = gc.layer_norm(gc.attention(e, e, e, causal=True), gc.param("g", (3,), init=1.0), 0.0)
    w = [gc.param("w_ih", (8, 3)), gc.param("w_hh", (8, 2))]
    zeros = gc.const(np.zeros((1, 2)))
    hidden, (h, c) = gc.unroll(lambda x, s: gc.lstm_cell(x, s, *w), a[:, 1:], (zeros, zeros))
    loss = gc.sum(h * h) + gc.sum(gc.gelu(e[:, ::2]))
    leaves = [ids, *gc.params(loss)]
    outputs = [loss, *gc.grad(loss, gc.params(loss))]
    lowered = gc.lower(outputs, inputs=leaves)
    for batch in (2, 5):
        values = gc.init_params(loss) | {"ids": rng.integers(0, 6, (batch, 4))}
        for got, want in zip(
            lowered(*[values[n.name] for n in leaves]), gc.evaluate(outputs, values)
        ):
            np.testing.assert_array_equal(got, want)
