"""The generated JAX module: a `Module` that copies helper files by their source.

graphc never imports the JAX helpers (jax_runtime.py): they need JAX,
which graphc does not. Their source is read as text and copied, each top-level definition
once, beside the NumPy-only helpers the JAX module shares with the NumPy one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

from .module import Module


class JaxModule(Module):
    """A Module whose helpers are copied from files, whole or by the functions needed."""

    def __init__(self, doc: str):
        super().__init__(doc)
        self.imports = []
        self.copied_names: set[str] = set()  # top-level names copied so far

    def copy_file(self, path: Path, only: Iterable[str] | None = None) -> None:
        """Copy the Python file at `path` (whole, or the functions of `only` it defines and
        the functions of that file they call) with its imports; each definition once."""
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        functions = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef)}
        wanted = None if only is None else _called(functions, only)
        for statement in tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.level > 0:
                continue  # graphc's own modules: the file carries copies of what it uses
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                if (line := ast.unparse(statement)) not in self.imports:
                    self.imports.append(line)
                continue
            names = _defined(statement)
            if (
                not names
                or names & self.copied_names
                or (wanted is not None and not names & wanted)
            ):
                continue  # the docstring, or copied already, or not needed
            self.preamble.append(ast.get_source_segment(source, statement) + "\n")
            self.copied_names |= names
            self.namer.taken |= names
        self.imports.sort(key=_import_order)


def names_used(path: Path) -> set[str]:
    """The names the Python file at `path` reads but does not define (among them the
    functions it calls from the files copied beside it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = set().union(*(_defined(s) for s in tree.body))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - defined


def _defined(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, ast.Assign):
        return {t.id for t in statement.targets if isinstance(t, ast.Name)}
    return set()


def _called(functions: dict[str, ast.FunctionDef], roots: Iterable[str]) -> set[str]:
    found, stack = set(), [name for name in roots if name in functions]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            used = {n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)}
            stack += sorted(used & set(functions))
    return found


def _import_order(line: str) -> tuple[int, str, str]:
    path = line.split()[1]  # "import a.b as c" and "from a.b import c" alike
    return (0 if path.split(".")[0] in sys.stdlib_module_names else 1, path, line)


def runtime_path() -> Path:
    """The JAX runtime's file (copied into generated modules, never imported by graphc)."""
    return Path(__file__).with_name("jax_runtime.py")


def native_ops() -> frozenset[str]:
    """The ops the JAX runtime computes whole (a function named after the op: the
    convolutions and their gradients, as lax.conv_general_dilated and its transposes)."""
    from ..ops.registry import REGISTRY

    tree = ast.parse(runtime_path().read_text(encoding="utf-8"))
    defined = {s.name for s in tree.body if isinstance(s, ast.FunctionDef)}
    return frozenset(name for name in defined if name in REGISTRY and REGISTRY[name].decompose)
