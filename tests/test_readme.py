"""The README stays true: its two commands come first, its Python runs, its command lines
work, and the pictures it shows exist."""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from graphc.cli import main
from test_op_recipe import NAME, tree_with_recipe

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as _f:
    README = _f.read()


def blocks(language, containing=""):
    found = re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)
    return [block for block in found if containing in block]


def test_the_two_setup_commands_come_first():
    first = blocks("sh")[0].splitlines()
    assert [line.split()[:2] for line in first] == [["make", "demo"], ["make", "test"]]
    assert README.index("make demo") < README.index("```python")


def test_the_example_is_at_most_15_lines_and_runs(tmp_path):
    example = blocks("python", "gc.export(loss")[0]
    assert len(example.strip().splitlines()) == 15
    done = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "one backward pass" in done.stdout
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "def train_step" in (tmp_path / "train.py").read_text()


def test_the_add_an_op_recipe_works(tmp_path):
    """The recipe followed literally on a copy of the tree (under a name the README does not
    register): the name added to graphc/__init__.py builds the op, its four gradients agree, and
    it exports to NumPy and to JAX, whose step computes the same loss and gradient."""
    copy = tree_with_recipe(str(tmp_path), NAME)
    script = f"""
import numpy as np
import graphc as gc
x = gc.input("x", (None, 3))
w = gc.param("w", (3,), init=0.5)
loss = gc.mean(gc.{NAME}(x * w))
values = gc.init_params(loss) | {{"x": np.linspace(-2, 2, 12).reshape(4, 3)}}
report = gc.compare(loss, w, values)
assert all(r.max_abs_error < 1e-8 for r in report.results), report
gc.export(loss, "t.py")
import importlib.util
spec = importlib.util.spec_from_file_location("j", gc.export(loss, "j.py", backend="jax"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
got_loss, got_grads = module.loss_and_grads(module.init_params(0), {{"x": values["x"]}})
want_loss, want_grad = gc.evaluate([loss, gc.grad(loss, w)], values)
assert abs(float(got_loss) - float(want_loss)) <= 1e-12 * abs(float(want_loss))
assert np.linalg.norm(np.asarray(got_grads["w"]) - want_grad) <= 1e-12 * np.linalg.norm(want_grad)
"""
    env = {**os.environ, "PYTHONPATH": copy}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "abs" in (pathlib.Path(copy) / "t.py").read_text()


def test_the_model_file_trains(tmp_path, monkeypatch, capsys):
    block = blocks("python", "def model()")[0]
    (tmp_path / "my_model.py").write_text(block)
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(block.splitlines()[0].split(":", 1)[1])
    assert argv[:2] == ["graphc", "train"]
    assert main([*argv[1:], "--epochs", "30", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"val_accuracy ([\d.]+)%", out).group(1)) > 85


def cli_lines():
    lines = []
    for line in blocks("sh")[1].splitlines():
        command = line.split("#")[0].strip()
        if command and not command.startswith("graphc demo"):
            lines.append(command)
    return lines


def test_the_command_lines_work(tmp_path, monkeypatch, capsys):
    """Each `graphc ...` line of the README, run from a folder holding examples/."""
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    assert len(cli_lines()) >= 8
    for command in cli_lines():
        argv = shlex.split(command)
        if argv[0] == "python":
            done = subprocess.run(
                [sys.executable, *argv[1:]], capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, (command, done.stderr)
        else:
            assert argv[0] == "graphc"
            assert main(argv[1:]) == 0, (command, capsys.readouterr().err)
    assert (tmp_path / "curves.png").exists() and (tmp_path / "graph.svg").exists()


@pytest.mark.parametrize("picture", re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README))
def test_the_pictures_exist(picture):
    path = os.path.join(ROOT, picture)
    assert os.path.getsize(path) > 1000
