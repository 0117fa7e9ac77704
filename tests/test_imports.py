"""graphc's imports form layers: the IR is a leaf, and no import circle joins its packages.

Imports are read with `ast` from the source, lazy ones inside functions included: a lazy
import still ties the two modules together (it only hides the circle until run time). A
module is known by the package it belongs to: graphc.ops, graphc.diff, graphc.passes,
graphc.codegen and visual each count as one, every top-level module (graphc.ir,
graphc.evaluation, graphc.trainer, ...) and the package face `graphc` (its __init__) as
their own. `import graphc.x` reaches graphc.x, not the face that re-exports everything.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("graphc.ops", "graphc.diff", "graphc.passes", "graphc.codegen", "visual")


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path for top in ("graphc", "visual") for path in (ROOT / top).rglob("*.py")
}


def imported(name: str, source: str) -> list[tuple[str, int]]:
    """The graphc and visual modules a module's source imports, anywhere in it, with the line:
    `from pkg import sub` names the module pkg.sub when sub is one, else pkg."""
    path = MODULES.get(name)
    package = name if path is not None and path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return [(target, line) for target, line in found if target in MODULES]


def unit(module: str) -> str:
    """The package a module counts as (see the module docstring)."""
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), module)


def unit_graph() -> dict[str, dict[str, str]]:
    """unit -> {imported unit: 'file:line' of one such import}."""
    graph: dict[str, dict[str, str]] = {}
    for name, path in MODULES.items():
        for target, line in imported(name, path.read_text(encoding="utf-8")):
            if unit(target) != unit(name):
                where = f"{path.relative_to(ROOT)}:{line}"
                graph.setdefault(unit(name), {}).setdefault(unit(target), where)
    return graph


def find_circle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One import circle as 'a -> b (file:line)' steps, or None when the graph is acyclic."""
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target, where in sorted(graph.get(node, {}).items()):
            if state.get(target) == "open":
                start = path.index(target) if target in path else len(path)
                return [*path[start:], node, f"{target} ({where})"]
            if target not in state and (circle := visit(target, [*path, node])):
                return circle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node, [])):
            return circle
    return None


def test_the_ir_imports_nothing_from_the_rest_of_graphc():
    """graphc.ir is a leaf: the op library installs the node's operators, visual its display,
    and composites live with the ops. Its exception family is the one import allowed, and
    errors.py itself imports nothing from graphc."""
    ir = [t for t, _ in imported("graphc.ir", MODULES["graphc.ir"].read_text())]
    assert set(ir) <= {"graphc.errors"}, ir
    assert imported("graphc.errors", MODULES["graphc.errors"].read_text()) == []


def test_no_import_circle_joins_graphcs_packages():
    graph = unit_graph()
    assert {"graphc", "graphc.ops", "graphc.codegen", "visual"} <= graph.keys()  # it reads them
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_checks_find_a_lazy_import_and_a_circle():
    lazy = "def f():\n    from .ops.registry import apply\n    import visual\n"
    assert imported("graphc.ir", lazy) == [("graphc.ops.registry", 2), ("visual", 3)]
    assert imported("graphc.codegen.lowering", "from .. import files, ir\n") == [
        ("graphc.files", 1),
        ("graphc.ir", 1),
    ]
    graph = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:2"}, "c": {"a": "c.py:3"}}
    assert find_circle(graph) == ["a", "b", "c", "a (c.py:3)"]
    assert find_circle({"a": {"b": "a.py:1"}, "b": {}}) is None


@pytest.mark.parametrize("package", ["graphc", *PACKAGES])
def test_no_function_shadows_a_module(package):
    """`import graphc.diff.second_order as H` gives the module: no package attribute of a
    submodule's name holds anything else."""
    module = importlib.import_module(package)
    folder = ROOT.joinpath(*package.split("."))
    names = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
    names += [p.parent.name for p in folder.glob("*/__init__.py")]
    shadowed = [
        f"{package}.{name}"
        for name in sorted(names)
        if hasattr(module, name)
        and getattr(module, name) is not importlib.import_module(f"{package}.{name}")
    ]
    assert not shadowed, f"functions shadow the modules {shadowed}"
