"""The `graphc` command line: every subcommand, and one clear line for each bad input."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import graphc as gc
import visual
from graphc.cli import main

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLE = os.path.join(ROOT, "examples", "prelu_l2.py")
SMALL = """
import graphc as gc
import numpy as np

def model():
    x = gc.input("x", (None, 3))
    y = gc.input("y", (None,), "int64")
    W = gc.param("W", (3, 2), init="xavier_normal")
    logits = gc.named(gc.prelu(x @ W, gc.param("alpha", (2,), init=0.25)), "logits")
    return gc.softmax_cross_entropy(logits, y) + 1e-3 * gc.l2(W), logits

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    return {"x": x, "y": (x[:, 0] > 0).astype(np.int64)}
"""


def run(capsys, *argv):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(capsys, *argv):
    status, out, err = run(capsys, *argv)
    assert status != 0, out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphc: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.py"
    path.write_text(SMALL)
    return path


@pytest.fixture
def saved(tmp_path, small):
    from graphc.modelfile import load_model

    path = tmp_path / "small.json"
    gc.save(load_model(small).outputs, path)
    return path


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("show", "render", "compare", "export", "train", "optimize", "cost", "demo"):
        assert command in out


@pytest.mark.parametrize("model", ["small", "saved"])
def test_show_lists_leaves_ops_and_data(capsys, request, model):
    path = request.getfixturevalue(model)
    status, out, _ = run(capsys, "show", path)
    assert status == 0
    assert "param  W" in out and "(3, 2)" in out and "prelu x1" in out
    assert ("data train: 64 rows" in out) == (model == "small")


def svg_root(path):
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return root


@pytest.mark.parametrize(
    "flags, words",
    [
        ([], ["W", "alpha", "prelu"]),
        (["--backward"], ["∂loss/∂W", "∂loss/∂alpha"]),
        (["--combined", "--values"], ["backward (reverse mode)", "="]),
        (["--collapse", "--values", "--title", "my net"], ["my net", "∂"]),
        (["--highlight", "alpha"], ["alpha"]),
    ],
)
def test_render_writes_an_svg_of_the_graph(capsys, tmp_path, flags, words):
    out = tmp_path / "graph.svg"
    status, stdout, _ = run(capsys, "render", EXAMPLE, "-o", out, *flags)
    assert status == 0 and f"wrote {out}" in stdout
    text = "".join(svg_root(out).itertext())
    for word in words:
        assert word in text, word


def test_render_picks_the_format_from_the_suffix_and_has_a_default_name(
    capsys, tmp_path, monkeypatch, saved
):
    status, _, _ = run(capsys, "render", saved, "-o", tmp_path / "g.png")
    assert status == 0 and (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, _ = run(capsys, "render", saved, "-o", tmp_path / "g.dot")
    assert status == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "render", saved, "--backward")[0] == 0
    svg_root(tmp_path / "small-backward.svg")


def test_render_without_the_dot_program_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere
    line = one_line_error(capsys, "render", EXAMPLE, "-o", tmp_path / "g.svg")
    assert "Graphviz" in line and "dot" in line
    assert run(capsys, "render", EXAMPLE, "-o", tmp_path / "g.dot")[0] == 0  # DOT needs no dot


def test_render_into_a_missing_folder_or_with_a_bad_suffix(capsys, tmp_path):
    assert "does not exist" in one_line_error(
        capsys, "render", EXAMPLE, "-o", tmp_path / "nope" / "g.svg"
    )
    assert ".svg" in one_line_error(capsys, "render", EXAMPLE, "-o", tmp_path / "g.bmp")


def test_compare_prints_the_four_methods_and_writes_the_table(capsys, tmp_path, small):
    status, out, _ = run(capsys, "compare", small, "-o", tmp_path / "table.txt")
    assert status == 0
    for method in ("symbolic", "numeric", "forward", "reverse"):
        assert method in out
    assert "errors against symbolic" in out and "first 4 training rows" in out
    assert (tmp_path / "table.txt").read_text().splitlines()[1].split()[0] == "method"
    status, out, _ = run(
        capsys,
        "compare",
        small,
        "--methods",
        "reverse",
        "numeric:five_point",
        "--wrt",
        "alpha",
        "--batch",
        "2",
        "-o",
        tmp_path / "t.json",
    )
    report = json.loads((tmp_path / "t.json").read_text())
    assert status == 0 and report["wrt"] == ["alpha"] and report["elements"] == 2
    assert [m["method"] for m in report["methods"]] == ["reverse", "numeric:five_point"]
    assert report["methods"][1]["max_abs_error"] < 1e-8


def test_compare_on_a_saved_graph_uses_random_rows(capsys, saved):
    status, out, _ = run(capsys, "compare", saved, "--methods", "forward", "reverse")
    assert status == 0 and "random rows" in out


def test_export_writes_a_script_that_trains_on_the_data_it_wrote(capsys, tmp_path, small):
    script, data = tmp_path / "train_small.py", tmp_path / "small.npz"
    status, out, _ = run(
        capsys,
        "export",
        small,
        "-o",
        script,
        "--data",
        data,
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--epochs",
        "3",
    )
    assert status == 0 and f"python {script} {data}" in out
    source = script.read_text()
    assert "import numpy as np" in source and "adam" in source and "0.05" in source
    done = subprocess.run(
        [sys.executable, str(script), str(data), "--history", str(tmp_path / "h.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["epoch"] == [1, 2, 3] and history["loss"][-1] < history["loss"][0]


def test_export_default_name_and_options_checked(capsys, tmp_path, monkeypatch, saved):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "export", saved)
    assert status == 0 and (tmp_path / "small_train.py").exists() and "DATA.npz" in out
    assert "--data needs" in one_line_error(capsys, "export", saved, "--data", "d.npz")
    assert "momentum" in one_line_error(capsys, "export", saved, "--momentum", "0.5")
    assert "batch_size" in one_line_error(capsys, "export", saved, "--batch-size", "0")


def test_train_shows_progress_and_writes_history_plot_and_params(capsys, tmp_path, small):
    import numpy as np

    files = {"history": tmp_path / "h.json", "plot": tmp_path / "c.png", "save": tmp_path / "p.npz"}
    outputs = [a for k, v in files.items() for a in (f"--{k}", v)]
    status, out, _ = run(
        capsys,
        "train",
        small,
        "--epochs",
        "5",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
        "--batch-size",
        "8",
        *outputs,
    )
    assert status == 0
    assert "epoch 5/5 [####################]" in out and "final: loss" in out
    history = json.loads(files["history"].read_text())
    verdict = visual.diagnose(history)  # the curves' reading, in the terminal too
    assert f"curves: {verdict.kind}: {verdict.text}" in out
    assert history["epoch"] == [1, 2, 3, 4, 5] and len(history["accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0] and history["accuracy"][-1] > 0.9
    assert files["plot"].read_bytes()[:4] == b"\x89PNG"
    with np.load(files["save"]) as params:
        assert set(params.files) == {"W", "alpha"}


def test_train_a_saved_graph_on_an_npz(capsys, tmp_path, small, saved):
    data = tmp_path / "d.npz"
    run(capsys, "export", small, "-o", tmp_path / "t.py", "--data", data)
    assert "nothing to train on" in one_line_error(capsys, "train", saved)
    status, out, _ = run(capsys, "train", saved, "--data", data, "--epochs", "2", "--quiet")
    assert status == 0 and "[#" not in out and "final: loss" in out
    assert "not an .npz" in one_line_error(capsys, "train", saved, "--data", small)
    assert "no such file" in one_line_error(capsys, "train", saved, "--data", tmp_path / "x")


def test_training_that_diverges_stops_with_one_error_and_no_numpy_warnings(capsys, tmp_path):
    import warnings

    path = tmp_path / "diverges.py"
    path.write_text(
        textwrap.dedent("""
        import graphc as gc
        import numpy as np

        def model():
            x = gc.input("x", (None, 2))
            return gc.sum(gc.log(x @ gc.param("W", (2, 1)) - 1e9))  # log of negatives: nan

        def data():
            return {"x": np.ones((4, 2))}
        """)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, _, err = run(capsys, "train", path, "--epochs", "2", "--quiet")
    assert status != 0 and "graphc: error: training diverged at epoch 1" in err
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []


def test_a_progress_bar_on_a_terminal_ends_its_line_when_training_stops_early():
    import io

    import numpy as np

    from graphc.progress import ProgressBar
    from graphc.trainer import train

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def fit(params, state, train, **options):  # an exported module's fit whose loss blew up
        return {"epoch": [1], "loss": [float("nan")]}

    trainer = {"init_params": lambda seed: {}, "init_state": lambda seed: {}, "fit": fit}
    screen = Terminal()
    with pytest.raises(gc.GraphError, match="diverged at epoch 1"):
        train(trainer, {"train": {"x": np.ones((2, 1))}}, 5, progress=ProgressBar(5, stream=screen))
    assert screen.getvalue().startswith("\repoch 1/5 [") and screen.getvalue().endswith("\n")


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--batch-size", "-1"]])
def test_train_refuses_bad_counts_before_announcing_the_run(capsys, small, option):
    status, out, err = run(capsys, "train", small, *option)
    assert status != 0 and "must be a positive int" in err and out == ""


def test_compare_with_a_batch_larger_than_the_data_says_how_many_rows_it_used(capsys, small):
    status, out, _ = run(capsys, "compare", small, "--methods", "reverse", "--batch", "500")
    assert status == 0 and "(on the first 64 training rows)" in out  # SMALL has 64 rows


def test_optimize_reports_each_pass_draws_and_saves_the_result(capsys, tmp_path, small):
    status, out, _ = run(
        capsys, "optimize", small, "--render", tmp_path / "diff.svg", "-o", tmp_path / "opt.json"
    )
    assert status == 0 and "loss and its gradients" in out
    before, after = map(int, re.search(r"optimize: (\d+) -> (\d+) nodes", out).groups())
    assert after < before
    for name in ("cse", "fold", "simplify", "fuse", "dce"):
        assert f"  {name} " in out
    assert "removed (red)" in "".join(svg_root(tmp_path / "diff.svg").itertext())
    optimized = gc.load(tmp_path / "opt.json")
    assert len(gc.topological_order(optimized)) == after and len(optimized) == 3  # loss, dW, da
    status, out, _ = run(capsys, "optimize", small, "--forward", "--passes", "cse", "dce")
    assert status == 0 and "forward graph" in out and "fuse" not in out


def test_cost_prints_flops_for_forward_and_gradient(capsys, small):
    status, out, _ = run(capsys, "cost", small, "--batch", "16")
    assert status == 0 and "batch size 16" in out
    assert re.search(r"cheap-gradient ratio \(gradient / forward FLOPs\): \d", out)
    assert "forward " in out and "backward " in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["optimize", "--passes", "nope"], "unknown pass 'nope'"),
        (["cost", "--batch", "0"], "batch size must be a positive int"),
        (["compare", "--wrt", "nope"], "no param named 'nope'"),
        (["compare", "--methods", "guess"], "unknown method 'guess'"),
        (["compare", "--batch", "0"], "positive"),
        (["train", "--epochs", "0"], "epochs must be a positive int"),
        (["train", "--lr", "-1"], "learning rate must be positive"),
        (["train", "--plot", "/no/such/folder/c.png"], "does not exist"),
    ],
)
def test_bad_option_values(capsys, small, argv, words):
    assert words in one_line_error(capsys, argv[0], small, *argv[1:])


# ---- bad input: one line, non-zero exit, for every subcommand -------------------------

COMMANDS = [
    ["show"],
    ["render", "-o", "{tmp}/g.svg"],
    ["compare"],
    ["export", "-o", "{tmp}/train.py"],
    ["train", "--epochs", "1"],
    ["optimize"],
    ["cost"],
]


def commands(tmp_path, path):
    return [[c[0], str(path)] + [a.format(tmp=tmp_path) for a in c[1:]] for c in COMMANDS]


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=[c[0] for c in COMMANDS])
def test_bad_inputs_give_one_line_and_a_nonzero_exit(capsys, tmp_path, index):
    cases = {
        "missing.py": (None, "no such file"),
        "nomodel.py": ("x = 1\n", "defines no model()"),
        "broken.py": ("def model(:\n", "syntax error"),
        "vector.py": (
            "import graphc as gc\ndef model():\n    return gc.input('x', (2,))\n",
            "scalar",
        ),
        "bad.json": (
            '{"format": "graphc-graph", "version": 1, "nodes": [{"op": "nope"}], "outputs": [0]}',
            "unknown op 'nope'",
        ),
        "notjson.json": ("{", "not valid JSON"),
        "missing.json": (None, "no such file"),
    }
    for name, (text, words) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(textwrap.dedent(text))
        line = one_line_error(capsys, *commands(tmp_path, path)[index])
        assert words in line and name in line, line


def test_an_internal_error_is_one_line_unless_traceback_is_asked(capsys, monkeypatch, small):
    import graphc.cli as cli

    def boom(args):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cli.commands, "show", boom)
    status, _, err = run(capsys, "show", small)
    assert status == cli.EXIT_INTERNAL and err.count("\n") == 1 and "kaput" in err
    with pytest.raises(RuntimeError):
        main(["--traceback", "show", str(small)])


def test_a_model_without_params(capsys, tmp_path):
    path = tmp_path / "constant.py"
    path.write_text("import graphc as gc\ndef model():\n    return gc.mean(gc.const([1.0, 2.0]))\n")
    status, out, _ = run(capsys, "show", path)
    assert status == 0 and "0 trainable values" in out
    assert "no params to differentiate" in one_line_error(capsys, "compare", path)
    assert "no params to train" in one_line_error(capsys, "export", path, "-o", tmp_path / "t.py")


def test_the_console_script_runs_as_a_subprocess(tmp_path, saved):
    script = os.path.join(os.path.dirname(sys.executable), "graphc")
    done = subprocess.run([script, "show", str(saved)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "alpha" in done.stdout
    done = subprocess.run(
        [script, "show", str(tmp_path / "absent.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.strip().count("\n") == 0
    assert "no such file" in done.stderr and "Traceback" not in done.stderr
