import json

import numpy as np

import graphc as gc
from graphc.demo import lecture_network


def test_round_trip_keeps_structure_names_and_values(tmp_path, rng):
    with gc.scope("net"):
        loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.01)
    path = tmp_path / "net.json"
    gc.save(loss, path)
    assert json.loads(path.read_text())["format"] == "graphc-graph"
    (loaded,) = gc.load(path)
    before, after = gc.topological_order(loss), gc.topological_order(loaded)
    assert [(n.op, n.shape, n.dtype, n.name, n.scope) for n in before] == [
        (n.op, n.shape, n.dtype, n.name, n.scope) for n in after
    ]
    values = gc.init_params(loss) | {"x": rng.normal(size=(5, 4)), "y": rng.integers(0, 3, 5)}
    assert gc.init_params(loaded).keys() == gc.init_params(loss).keys()
    np.testing.assert_array_equal(gc.init_params(loaded)["W"], values["W"])
    assert gc.evaluate(loaded, values) == gc.evaluate(loss, values)


def test_round_trip_of_batch_norm_dropout_and_array_consts(tmp_path, rng):
    x = gc.input("x", (None, 3), dtype="float32")
    h = gc.batch_norm(
        x,
        gc.param("g", (3,), init=1.0, dtype="float32"),
        gc.param("b", (3,), dtype="float32"),
        name="bn",
    )
    out = gc.sum(gc.dropout(h, 0.5, seed=7) * np.array([1.0, 2.0, 3.0], dtype=np.float32))
    gc.save(out, tmp_path / "g.json")
    (loaded,) = gc.load(tmp_path / "g.json")
    values = gc.init_params(out) | {"x": rng.normal(size=(6, 3))}
    for training in (False, True):
        a, b = {}, {}
        np.testing.assert_array_equal(
            gc.evaluate(out, values, training, a), gc.evaluate(loaded, values, training, b)
        )
        assert a.keys() == b.keys()
    assert loaded.dtype == "float32"
