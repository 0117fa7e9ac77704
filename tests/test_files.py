"""No lost files: every writer goes through graphc.files.write_file, so a write that fails
part-way (a file-size limit, an interrupt) leaves the old file intact and no temporary behind,
and a command refuses to overwrite its own inputs before doing any work."""

import os
import pathlib
import re
import resource
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc import cli
from graphc.files import write_bytes, write_file, write_text

ROOT = pathlib.Path(__file__).resolve().parents[1]
OLD = b"the user's old file\n"

MODEL = """
import numpy as np
import graphc as gc


def model():
    x = gc.input("x", (None, 3))
    y = gc.input("y", (None,), "int64")
    logits = x @ gc.param("W", (3, 2)) + gc.param("b", (2,))
    return gc.softmax_cross_entropy(logits, y), logits


def data():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(12, 3)), "y": np.arange(12) % 2}
"""


# ---- the helper itself -------------------------------------------------------------------


def test_write_file_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(OLD)
    path.chmod(0o640)
    assert write_text(path, "new") == str(path)
    assert path.read_text() == "new" and (path.stat().st_mode & 0o777) == 0o640
    write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.bin"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    path = tmp_path / "a.txt"
    path.write_bytes(OLD)

    def half_then_fail(f):
        f.write("half of the new content")
        raise failure

    with pytest.raises(type(failure) if isinstance(failure, OSError) else failure) as caught:
        write_file(path, half_then_fail)
    assert path.read_bytes() == OLD
    assert os.listdir(tmp_path) == ["a.txt"]
    if isinstance(failure, OSError):
        assert str(path) in str(caught.value)  # the error names the file, not the temporary


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .* does not exist"):
        write_text(tmp_path / "no" / "a.txt", "x")


def test_every_writer_uses_the_helper():
    """No module writes a file by itself (open for writing, np.savez, savefig to a path)."""
    writes = re.compile(r"open\([^)]*['\"][wax]b?['\"]|np\.savez\([^f]|savefig\(path")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("graphc", "visual")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "files.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert not offenders


# ---- every writer, failing part-way -------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A model file, its exported script and data, in one folder."""
    folder = tmp_path_factory.mktemp("writers")
    (folder / "m.py").write_text(MODEL)
    assert cli.main(["export", str(folder / "m.py"), "-o", str(folder / "t.py"), "--data",
                     str(folder / "d.npz")]) == 0  # fmt: skip
    return folder


# (argv with OUT for the file under test; OUT's suffix). "script" runs the exported file.
WRITERS = {
    "gc.save": (["api-save", "OUT"], ".json"),
    "gc.export": (["api-export", "OUT"], ".py"),
    "compare -o": (["compare", "m.py", "--methods", "reverse", "-o", "OUT"], ".txt"),
    "export -o": (["export", "m.py", "-o", "OUT"], ".py"),
    "export --data": (["export", "m.py", "-o", "old.py", "--data", "OUT"], ".npz"),
    "train --history": (["train", "m.py", "--epochs", "1", "--quiet", "--history", "OUT"], ".json"),
    "train --save": (["train", "m.py", "--epochs", "1", "--quiet", "--save", "OUT"], ".npz"),
    "train --plot": (["train", "m.py", "--epochs", "1", "--quiet", "--plot", "OUT"], ".png"),
    "render": (["render", "m.py", "-o", "OUT"], ".svg"),
    "optimize -o": (["optimize", "m.py", "-o", "OUT"], ".json"),
    "optimize --render": (["optimize", "m.py", "--render", "OUT"], ".svg"),
    "script --save": (["script", "d.npz", "--epochs", "1", "--quiet", "--save", "OUT"], ".npz"),
    "script --history": (["script", "d.npz", "--epochs", "1", "--history", "OUT"], ".json"),
    "demo": (["demo", "--out", "DEMO"], "lecture_network.json"),
}


def _argv(folder: pathlib.Path, name: str) -> tuple[list[str], pathlib.Path]:
    argv, suffix = WRITERS[name]
    if name == "demo":
        out = folder / "demo-out" / suffix
        out.parent.mkdir(exist_ok=True)
        argv = [str(out.parent) if a == "DEMO" else a for a in argv]
    else:
        out = folder / f"old{suffix}"
        argv = [str(out) if a == "OUT" else a for a in argv]
    return [str(folder / a) if a in ("m.py", "d.npz", "old.py") else a for a in argv], out


RUN = """
import sys
import graphc as gc
from graphc import cli
from graphc.modelfile import load_model

argv = sys.argv[1:]
if argv[0] in ("api-save", "api-export"):
    loss = load_model("m.py").loss
    (gc.save if argv[0] == "api-save" else gc.export)(loss, argv[1])
elif argv[0] == "script":
    import runpy
    sys.argv = ["t.py", *argv[1:]]
    runpy.run_path("t.py", run_name="__main__")
else:
    sys.exit(cli.main(argv))
"""


def _leftovers(folder: pathlib.Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.tmp")]


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))  # writes past 64 bytes fail


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_file_size_limit_leaves_the_old_file(project, writer):
    argv, out = _argv(project, writer)
    out.write_bytes(OLD)
    (project / "old.py").write_bytes(OLD)  # export --data writes the script first
    done = subprocess.run(
        [sys.executable, "-c", RUN, *argv],
        cwd=project,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        env=os.environ | {"MPLBACKEND": "Agg"},
    )
    assert done.returncode != 0
    assert out.read_bytes() == OLD
    assert not _leftovers(project)
    assert (project / "old.py").read_bytes() == OLD
    named = re.search(r"cannot write (\S+): File too large", done.stderr.splitlines()[-1])
    assert named and named[1].endswith((out.name, "old.py"))
    assert "Traceback" not in done.stderr or writer.startswith(("gc.", "api"))


@pytest.mark.parametrize("writer", list(WRITERS))
def test_an_interrupt_leaves_the_old_file(project, writer, monkeypatch, capsys):
    argv, out = _argv(project, writer)
    out.write_bytes(OLD)
    (project / "old.py").write_bytes(OLD)

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # the content is written, not yet renamed
    monkeypatch.chdir(project)
    with pytest.raises((KeyboardInterrupt, SystemExit)) as caught:
        if argv[0] in ("api-save", "api-export"):
            from graphc.modelfile import load_model

            loss = load_model("m.py").loss
            (gc.save if argv[0] == "api-save" else gc.export)(loss, argv[1])
        elif argv[0] == "script":
            import runpy

            monkeypatch.setattr(sys, "argv", ["t.py", *argv[1:]])
            runpy.run_path("t.py", run_name="__main__")
        else:
            raise SystemExit(cli.main(argv))
    if caught.type is SystemExit:
        assert caught.value.code == 130
    assert out.read_bytes() == OLD
    assert (project / "old.py").read_bytes() == OLD
    assert not _leftovers(project)


# ---- outputs that are inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "m.py", "-o", "m.py"],
        ["export", "m.py", "-o", "t3.py", "--data", "m.py"],
        ["compare", "m.py", "-o", "m.py"],
        ["train", "m.py", "--history", "m.py"],
        ["train", "m.py", "--save", "m.py"],
        ["train", "m.py", "--data", "d.npz", "--save", "d.npz"],
        ["train", "m.py", "--save", "s.npz", "--history", "s.npz"],
        ["render", "m.py", "-o", "./m.py"],
        ["optimize", "g.json", "-o", "g.json"],
    ],
)
def test_an_output_that_is_an_input_is_refused_before_any_work(project, argv, capsys):
    loss = gc.softmax_cross_entropy(gc.input("x", (None, 2)), gc.input("y", (None,), "int64"))
    gc.save(loss, project / "g.json")
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    argv = [str(project / a) if not a.startswith("-") and a.endswith(("py", "npz", "json"))
            and a != argv[0] else a for a in argv]  # fmt: skip
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before loading, training or printing anything
    assert re.search(r"would overwrite|name the same file|writes \.", captured.err)
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before


def test_a_wrong_output_suffix_is_refused_before_training(project, capsys):
    assert cli.main(["train", str(project / "m.py"), "--plot", str(project / "p.txt")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "--plot writes .png .svg .pdf files" in captured.err


def test_a_closed_pipe_still_writes_the_files(project):
    save = project / "piped.npz"
    command = (
        f"{sys.executable} -m graphc.cli train {project / 'm.py'} --epochs 2 "
        f"--save {save} | head -c 1"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert done.stderr == ""
    with np.load(save) as saved:
        assert set(saved.files) == {"W", "b"}
