"""Write the five teaching notebooks (outputs cleared) from the cells in stories.py.

    python notebooks/make_notebooks.py            # rewrites notebooks/*.ipynb
    python notebooks/make_notebooks.py --out DIR  # writes them elsewhere (the tests compare)

Edit the stories in stories.py, not in the .ipynb files: tests/test_notebooks.py checks
that the committed notebooks are exactly what this script writes, and runs each one.
"""

from __future__ import annotations

import argparse
import os
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from stories import NOTEBOOKS  # noqa: E402  (the cells, as text, live in stories.py)


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook with deterministic cell ids and cleared outputs."""
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


def main(argv: list[str] | None = None) -> None:
    """Write every notebook into --out (default: this folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=HERE, help="the folder to write into")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        path = os.path.join(args.out, f"{name}.ipynb")
        with open(path, "w", encoding="utf-8") as f:
            nbformat.write(build(name, cells), f)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
