"""ONNX's own node test cases, for every op the importer claims: none gives a wrong value
(each passes within its tolerance or is refused with one clear error), and the published
list docs/onnx_ops.md is the one the generator writes today."""

import os

import pytest

pytest.importorskip("onnx")

from graphc.onnx.conformance import run  # noqa: E402
from graphc.onnx.ops import TABLE  # noqa: E402
from graphc.onnx.report import page  # noqa: E402

PAGE = os.path.join(os.path.dirname(__file__), "..", "docs", "onnx_ops.md")


@pytest.fixture(scope="module")
def results():
    return run(TABLE)


def test_no_case_of_a_claimed_op_gives_a_wrong_value(results):
    failed = {op: o.failed for op, o in results.items() if o.failed}
    assert failed == {}


def test_every_claimed_op_has_cases_and_nearly_all_pass_where_graphc_has_the_types(results):
    assert set(results) == set(TABLE) and all(o.passed or o.refused for o in results.values())
    passed = sum(len(o.passed) for o in results.values())
    assert passed >= 280
    for op in ("Gemm", "LayerNormalization", "Softmax", "ReduceSum", "Flatten", "Transpose"):
        assert results[op].passed and not results[op].refused, op
    # refusals say what graphc lacks, in words
    for outcome in results.values():
        for case, why in outcome.refused:
            assert why and "Traceback" not in why, case


def test_the_published_op_list_is_current(results):
    with open(PAGE, encoding="utf-8") as f:
        assert f.read() == page(results), (
            "regenerate: python -m graphc.onnx.report docs/onnx_ops.md"
        )
