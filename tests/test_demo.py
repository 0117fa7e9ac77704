"""`graphc demo` end to end: every file it says it wrote exists and is what it claims."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.cli import main
from graphc.demo import lecture_network


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run the `graphc demo --out DIR` console command once; (folder, printed text, the files
    it listed). How long it takes is benchmarks' business, not a test's: a loaded machine
    must not turn the suite red."""
    out = tmp_path_factory.mktemp("demo") / "out"
    script = os.path.join(os.path.dirname(sys.executable), "graphc")
    done = subprocess.run(
        [script, "demo", "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    text = done.stdout
    listed = text.split("== written ==")[1].strip().splitlines()
    files = {os.path.basename(line.split()[0]): line.split()[0] for line in listed}
    return out, text, files


def test_it_lists_every_file_it_wrote_and_nothing_else(demo):
    out, _, files = demo
    assert sorted(os.listdir(out)) == sorted(files)
    assert {
        "forward.svg",
        "backward.svg",
        "comparison.txt",
        "train_prelu_l2.py",
        "curves.png",
    } <= set(files)


def test_the_svgs_parse_and_show_the_network(demo):
    _, _, files = demo
    for name, words in (
        ("forward.svg", ["alpha", "prelu", "loss"]),
        ("backward.svg", ["∂loss/∂W", "∂loss/∂alpha"]),
    ):
        root = ET.parse(files[name]).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        text = "".join(root.itertext())
        assert all(word in text for word in words), name


def test_the_pngs_are_images(demo):
    import matplotlib.image

    _, _, files = demo
    for name in (n for n in files if n.endswith(".png")):
        image = matplotlib.image.imread(files[name])
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_the_comparison_has_four_methods_that_agree(demo):
    _, text, files = demo
    report = json.loads(Path(files["comparison.json"]).read_text())
    methods = {m["method"]: m for m in report["blackboard"]["methods"]}
    assert set(methods) == {"symbolic", "numeric", "forward", "reverse"}
    assert methods["reverse"]["max_abs_error"] < 1e-12
    assert methods["numeric"]["max_abs_error"] < 1e-6
    table = Path(files["comparison.txt"]).read_text()
    assert table.count("one JVP per element") == 2 and "sympy.diff" in table
    assert "one backward pass" in text and "sympy.diff" in text  # and on the terminal


def test_the_accuracy_is_printed_and_high(demo):
    _, text, files = demo
    found = re.search(r"validation accuracy after 20 epochs: ([\d.]+)%", text)
    assert found and float(found.group(1)) >= 93.0
    assert "epoch 20/20 [####################]" in text
    history = json.loads(Path(files["history.json"]).read_text())
    assert history["epoch"] == list(range(1, 21))
    assert history["loss"][-1] < history["loss"][0] / 5


def test_the_exported_script_runs_on_the_written_data(demo, tmp_path):
    out, _, files = demo
    done = subprocess.run(
        [
            sys.executable,
            files["train_prelu_l2.py"],
            files["digits.npz"],
            "--epochs",
            "3",
            "--history",
            str(tmp_path / "h.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert done.returncode == 0, done.stderr
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["val_accuracy"][-1] > 0.85


def test_the_saved_graph_loads_and_matches_the_lecture_network(demo):
    _, _, files = demo
    loss, logits = gc.load(files["lecture_network.json"])
    want, _ = lecture_network()
    with np.load(files["digits.npz"]) as data:
        values = gc.init_params(want) | {"x": data["x"][:8], "y": data["y"][:8]}
    assert gc.evaluate(loss, values) == pytest.approx(gc.evaluate(want, values), rel=1e-12)
    assert logits.name == "logits"


def test_a_folder_it_cannot_create_is_one_line(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file" / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("graphc: error: ") and err.count("\n") == 1


def test_without_graphviz_it_saves_dot_sources_and_carries_on(tmp_path, monkeypatch, capsys):
    from graphc.demo import run_demo

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere
    summary = run_demo(str(tmp_path / "out"), epochs=1)
    out = capsys.readouterr().out
    names = sorted(os.path.basename(p) for p in summary["files"])
    assert "forward.dot" in names and "backward.dot" in names and "forward.svg" not in names
    assert sorted(os.listdir(tmp_path / "out")) == names
    assert (tmp_path / "out" / "forward.dot").read_text().startswith("digraph")
    assert "dot` program is missing" in out and "install Graphviz" in out
    assert summary["validation_accuracy"] > 0.5


def test_the_readme_shows_the_table_the_demo_prints(demo):
    """Method and evaluation count of each row agree (times and last bits vary by machine)."""
    _, text, _ = demo
    with open(os.path.join(os.path.dirname(__file__), "..", "README.md")) as f:
        readme = f.read()

    def rows(block):
        return [
            (r.split()[0], r.split()[3])
            for r in block.splitlines()
            if r.split() and r.split()[0] in ("symbolic", "numeric", "forward", "reverse")
        ]

    printed = text.split("== four ways to differentiate ==")[1].split("== exporting")[0]
    shown = readme.split("## Four ways to differentiate")[1].split("```")[1]
    assert rows(shown) == rows(printed) and len(rows(printed)) == 7
