"""gc.compare and the lecture's cost studies: the four methods agree on the lecture network,
and the report shows what each cost."""

import json

import numpy as np
import pytest

import graphc as gc
from graphc.demo import lecture_network


@pytest.fixture(scope="module")
def lecture_report():
    rng = np.random.default_rng(0)
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {
        "x": rng.normal(size=(6, 4)),
        "y": rng.integers(0, 3, 6),
        "alpha": np.array([0.1, 0.2, 0.3]),
    }
    return gc.compare(loss, gc.params(loss), values), values


def test_all_four_methods_agree_on_the_lecture_network(lecture_report):
    report, values = lecture_report
    assert report.reference == "symbolic" and report.wrt == ["W", "b", "alpha"]
    assert [r.method for r in report.results] == ["symbolic", "numeric", "forward", "reverse"]
    assert all(r.ok for r in report.results), str(report)
    assert report["numeric"].max_rel_error < 1e-7
    assert report["forward"].max_rel_error < 1e-12 and report["reverse"].max_rel_error < 1e-12
    assert report["numeric"].max_rel_error > report["reverse"].max_rel_error
    # the L2 term's gradient is 2 * lambda * W exactly, in every method but the numeric one
    W = gc.param("W", (4, 3))
    penalty = gc.compare(0.1 * gc.l2(W), W, values, methods=("symbolic", "forward", "reverse"))
    for result in penalty.results:
        np.testing.assert_array_equal(result.gradient[0], 2 * 0.1 * values["W"])


def test_evaluation_counts_show_the_cost_of_each_method(lecture_report):
    report, _ = lecture_report
    n = report.elements
    assert n == 4 * 3 + 3 + 3
    assert report["forward"].evaluations == n  # one JVP per parameter element
    assert report["reverse"].evaluations == 1 and report["symbolic"].evaluations == 1
    assert report["numeric"].evaluations == 2 * n
    assert report["numeric"].derivative_ops is None
    assert report["forward"].derivative_ops > report["reverse"].derivative_ops > 0
    assert all(r.seconds > 0 for r in report.results)


def test_the_report_prints_serializes_and_renders(lecture_report):
    report, _ = lecture_report
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("gradient w.r.t. W, b, alpha (18 elements, float64)")
    assert lines[1].split()[:3] == ["method", "max", "abs"]
    assert [line.split()[0] for line in lines[2:]] == ["symbolic", "numeric", "forward", "reverse"]
    end = lines[1].index("evals") + len("evals")  # numbers are right-aligned under it
    counts = [line[:end].split()[-1] for line in lines[2:]]
    assert counts == ["1", "36", "18", "1"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["reference"] == "symbolic" and len(data["methods"]) == 4
    assert np.allclose(data["methods"][3]["gradient"][0], report["reverse"].gradient[0])
    page = report._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 5 and "reverse" in page
    with pytest.raises(KeyError, match="hessian"):
        report["hessian"]


def test_a_failing_method_is_reported_not_raised(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=0.1)
    values = gc.init_params(loss) | {"x": rng.normal(size=(6, 4)), "y": rng.integers(0, 3, 6)}
    report = gc.compare(
        loss,
        gc.params(loss),
        values,
        max_ops=300,
        methods=("symbolic", "numeric:complex", "reverse"),
    )
    assert not report["symbolic"].ok and "max_ops=300" in report["symbolic"].error
    assert not report["numeric:complex"].ok and "'prelu'" in report["numeric:complex"].error
    assert report.reference == "reverse mode in float64"
    assert report["reverse"].max_abs_error == 0.0
    assert "failed: " in str(report) and "failed: " in report._repr_html_()


def test_float32_is_measured_against_a_float64_reference(rng):
    x, W = gc.input("x", (None, 3), "float32"), gc.param("W", (3, 2), dtype="float32")
    y = gc.sum(gc.tanh(x @ W) * gc.sigmoid(x @ W))
    values = {
        "x": rng.normal(size=(5, 3)).astype("float32"),
        "W": rng.normal(size=(3, 2)).astype("float32"),
    }
    report = gc.compare(y, W, values, methods=("symbolic", "numeric", "numeric:complex", "reverse"))
    assert report["symbolic"].ok and 0 < report["symbolic"].max_rel_error < 1e-5
    assert report.dtype == "float32" and report.reference == "reverse mode in float64"
    assert 0 < report["reverse"].max_rel_error < 1e-5  # float32 round-off, seen against float64
    assert report["numeric:complex"].max_rel_error < 1e-5 < report["numeric"].max_rel_error


def test_bad_method_names_are_refused(rng):
    x = gc.param("x", (2,))
    with pytest.raises(gc.GraphError, match="unknown method 'telepathy'"):
        gc.compare(gc.sum(x * x), x, {"x": np.ones(2)}, methods=("reverse", "telepathy"))
    with pytest.raises(gc.GraphError, match="methods"):
        gc.compare(gc.sum(x * x), x, {"x": np.ones(2)}, methods="reverse")
    with pytest.raises(gc.GraphError, match="numeric:backward"):
        gc.compare(gc.sum(x * x), x, {"x": np.ones(2)}, methods=("numeric:backward",))


def test_forward_cost_grows_with_the_parameter_count():
    cost = gc.forward_cost(sizes=(2, 4, 8))
    assert set(cost) == {
        "n_params",
        "forward_evals",
        "reverse_evals",
        "forward_seconds",
        "reverse_seconds",
    }
    assert cost["n_params"] == [2 * 3 + 3, 4 * 3 + 3, 8 * 3 + 3]
    assert cost["forward_evals"] == cost["n_params"] and cost["reverse_evals"] == [1, 1, 1]
    assert all(s > 0 for s in cost["forward_seconds"] + cost["reverse_seconds"])


def test_symbolic_size_swells_with_depth_and_cse_tames_it():
    swell = gc.swell_study(depths=(1, 2, 3, 4))
    assert swell["depth"] == [1, 2, 3, 4]
    ops, shared = np.array(swell["ops"]), np.array(swell["ops_cse"])
    assert np.all(np.diff(ops) > 0) and np.all(shared < ops)
    # without sharing each layer multiplies the size; with cse it grows far more slowly
    assert ops[-1] / ops[0] > 5 * shared[-1] / shared[0]


def test_a_nan_gradient_shows_as_a_nan_error_not_as_agreement():
    from graphc.diff.comparison import _errors

    abs_err, rel_err = _errors([np.array([1.0, np.nan])], [np.array([1.0, 2.0])])
    assert np.isnan(abs_err) and np.isnan(rel_err)
    assert _errors([np.array([1.0, 2.5])], [np.array([1.0, 2.0])]) == (0.5, 0.25)
