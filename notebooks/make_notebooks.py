"""Write the eight teaching notebooks from the cells in stories*.py and run each, so they are
stored with their outputs (a reader on the web sees every picture).

    python notebooks/make_notebooks.py             # `make notebooks`: rewrite and run them all
    python notebooks/make_notebooks.py 4_l1_vs_l2  # only those named
    python notebooks/make_notebooks.py --cells-only --out DIR   # the cells, not run

Edit the stories in stories*.py, not in the .ipynb files: tests/test_notebooks.py checks
that each committed notebook holds exactly the cells this script writes, every code cell run
in order with its outputs, and runs each one again.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from stories import NOTEBOOKS  # noqa: E402  (the cells, as text, live in stories*.py)

KERNEL = "graphc-notebooks"


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook with deterministic cell ids and no outputs yet."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    stem = name.split("_")[0]
    for i, (kind, text) in enumerate(cells):
        cell = (
            nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        )
        cell.id = f"nb{stem}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def kernel_on_this_python(root: str) -> str:
    """A kernelspec that starts this interpreter (the one with graphc), first on JUPYTER_PATH,
    so a user's own `python3` kernel (another Python, without graphc) is never picked."""
    spec_dir = os.path.join(root, "kernels", KERNEL)
    os.makedirs(spec_dir, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "graphc",
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = root + (os.pathsep + old if old else "")
    os.environ.setdefault("MPLBACKEND", "Agg")  # anything that bypasses the inline backend
    return KERNEL


def run(nb: nbformat.NotebookNode, kernel: str) -> None:
    """Execute every cell in order in notebooks/ (so ../examples/ resolves), in place."""
    import nbclient

    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=300,
        record_timing=False,  # no timestamps: a rerun changes only what the code prints
        resources={"metadata": {"path": HERE}},
    )
    client.execute()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }


def main(argv: list[str] | None = None) -> None:
    """Write (and run) the notebooks into --out (default: this folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to write (default: all)")
    parser.add_argument("--out", default=HERE, help="the folder to write into")
    parser.add_argument("--cells-only", action="store_true", help="write the cells, not run")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(NOTEBOOKS)
    if unknown:
        parser.error(f"no notebook {', '.join(sorted(unknown))}; there are {', '.join(NOTEBOOKS)}")
    os.makedirs(args.out, exist_ok=True)
    if not args.names:  # a renamed or removed story leaves no stale notebook behind
        for old in glob.glob(os.path.join(args.out, "[0-9]_*.ipynb")):
            if os.path.basename(old)[:-6] not in NOTEBOOKS:
                os.remove(old)
                print(f"removed {old}")
    with tempfile.TemporaryDirectory() as root:
        kernel = None if args.cells_only else kernel_on_this_python(root)
        for name in args.names or NOTEBOOKS:
            nb = build(name, NOTEBOOKS[name])
            if kernel:
                run(nb, kernel)
            path = os.path.join(args.out, f"{name}.ipynb")
            with open(path, "w", encoding="utf-8") as f:
                nbformat.write(nb, f)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
