"""The code generator's layout: every stage a module of its own (no function shadows one),
and renderers that know only the plan (they import nothing upstream of it)."""

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import graphc.codegen

PACKAGE = Path(graphc.codegen.__file__).parent
# what a renderer may import from graphc: the plan, its buffers, spellings and the module
RENDERER_IMPORTS = {"plan", "buffers", "spell", "names", "module", "errors"}


def test_every_submodule_imports_as_a_module():
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        name = f"graphc.codegen.{info.name}"
        assert isinstance(importlib.import_module(name), types.ModuleType), name
        attribute = getattr(graphc.codegen, info.name, None)
        assert attribute is None or isinstance(attribute, types.ModuleType), name


def test_renderers_import_nothing_upstream_of_the_plan():
    for path in sorted(PACKAGE.glob("render_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                module = (node.module or "").split(".")[-1]
                assert module in RENDERER_IMPORTS, f"{path.name} imports {node.module}"
