"""Every notebook runs top to bottom without an error, in a kernel on this venv's Python,
and the committed .ipynb files are exactly what notebooks/make_notebooks.py writes."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
KERNEL = "graphc-test-python"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec that starts *this* interpreter, first on JUPYTER_PATH, so a user's own
    `python3` kernel (another Python, without graphc) is never picked."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "graphc tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(root) + (os.pathsep + old if old else "")
    # a headless matplotlib for anything that bypasses the inline backend
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def test_there_are_five_notebooks():
    names = [os.path.basename(p) for p in NOTEBOOKS]
    assert len(names) == 5, names


def test_committed_notebooks_match_their_generator(tmp_path):
    subprocess.run(
        [sys.executable, os.path.join(NOTEBOOK_DIR, "make_notebooks.py"), "--out", str(tmp_path)],
        check=True,
        timeout=60,
    )
    for path in NOTEBOOKS:
        with open(path) as f, open(tmp_path / os.path.basename(path)) as g:
            assert f.read() == g.read(), f"{path} differs from make_notebooks.py's output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, kernel_name):
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "notebooks are committed with their outputs cleared"
    )
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=120,
        resources={"metadata": {"path": NOTEBOOK_DIR}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    pictures = [o for o in outputs if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]
    assert pictures, "each notebook tells its story with at least one picture"
