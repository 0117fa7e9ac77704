"""`graphc explain` and the picture options of `graphc render`: --mode, --expand, --raw."""

import pathlib

import pytest

from graphc.cli import main

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_explain_writes_one_self_contained_page_for_every_example(capsys, tmp_path, example):
    page = tmp_path / "backprop.html"
    status, out, err = run(capsys, "explain", EXAMPLES / example, "-o", page)
    assert status == 0, err
    assert "inference mode" in out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") > 5
    assert "https://" not in text and "<script src" not in text


def test_explain_in_training_mode_and_a_wrong_suffix(capsys, tmp_path):
    page = tmp_path / "bn.html"
    status, out, _ = run(
        capsys, "explain", EXAMPLES / "batchnorm.py", "--mode", "train", "-o", page
    )
    assert status == 0 and "training mode" in out
    assert "training mode" in page.read_text(encoding="utf-8")
    status, _, err = run(capsys, "explain", EXAMPLES / "batchnorm.py", "-o", tmp_path / "x.svg")
    assert status == 1 and "-o writes .html .htm files" in err


def test_render_draws_the_simplified_backward_graph_unless_raw(capsys, tmp_path):
    simple, raw = tmp_path / "simple.dot", tmp_path / "raw.dot"
    assert run(capsys, "render", EXAMPLES / "prelu_l2.py", "--backward", "-o", simple)[0] == 0
    assert run(capsys, "render", EXAMPLES / "prelu_l2.py", "--backward", "--raw", "-o", raw)[0] == 0
    count = lambda p: p.read_text().count("label=<")  # noqa: E731
    assert count(simple) + 15 < count(raw)


def test_render_opens_composites_and_picks_the_mode(capsys, tmp_path):
    out = tmp_path / "bn.dot"
    argv = ["render", EXAMPLES / "batchnorm.py", "--values", "-o", out]
    assert run(capsys, *argv, "--mode", "train")[0] == 0
    assert "training mode" in out.read_text() and "batch norm" in out.read_text()
    assert run(capsys, *argv, "--expand", "batch_norm")[0] == 0
    text = out.read_text()
    assert "inference mode" in text and "batch norm" not in text and "running_var" in text
