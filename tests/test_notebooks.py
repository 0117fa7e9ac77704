"""The committed notebooks hold exactly the cells notebooks/make_notebooks.py writes from
stories*.py, each stored with the outputs of one run in order (a cheap check that they are
current), and every notebook still runs top to bottom in a kernel on this venv's Python."""

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


def test_there_are_the_eight_stories_in_the_lectures_order():
    names = [os.path.basename(p)[:-6] for p in NOTEBOOKS]
    assert names == [
        "1_prelu_graph",
        "2_four_ways",
        "3_export_and_train",
        "4_l1_vs_l2",
        "5_batchnorm_dropout",
        "6_curves_and_depth",
        "7_saturation",
        "8_sequences",
    ]


def test_committed_notebooks_are_their_stories_run_with_outputs(tmp_path):
    import nbformat

    subprocess.run(
        [
            sys.executable,
            os.path.join(NOTEBOOK_DIR, "make_notebooks.py"),
            "--cells-only",
            "--out",
            str(tmp_path),
        ],
        check=True,
        timeout=60,
    )
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        fresh = nbformat.read(tmp_path / os.path.basename(path), as_version=4)
        where = f"{os.path.basename(path)}: run `make notebooks`"
        assert [(c.id, c.cell_type, c.source) for c in committed.cells] == [
            (c.id, c.cell_type, c.source) for c in fresh.cells
        ], f"{where} (its cells differ from stories*.py)"
        runs = [c.execution_count for c in committed.cells if c.cell_type == "code"]
        assert runs == list(range(1, len(runs) + 1)), f"{where} (not run top to bottom once)"
        outputs = [o for c in committed.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], f"{where} (an error)"
        pictures = [o for o in outputs if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]
        assert pictures, f"{where} (no picture stored)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, kernel_name):
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # run afresh: nothing stored may stand in for an output
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
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
