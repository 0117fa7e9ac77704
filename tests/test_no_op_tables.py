"""No pass keeps a table of op names: what the passes, the IR, evaluation and the
differentiation modes know about an op they read off its `OpDef` (see test_op_facts.py).
Rules name the ops they match, one rule at a time; a module-level collection of op names
is a second home for an op's facts, which a newly registered op would not be in."""

import ast
import pathlib

import pytest

from graphc.ops.registry import REGISTRY

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "graphc"
MODULES = sorted(
    [*(PACKAGE / "passes").glob("*.py"), *(PACKAGE / "diff").glob("*.py")]
    + [PACKAGE / "ir.py", PACKAGE / "evaluate.py"]
)


def op_names_in(value: ast.expr) -> set[str]:
    """The registered op names written as the elements (or keys) of a collection literal."""
    if isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("frozenset", "set"):
        value = value.args[0] if value.args else value
    elements = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", [])
    return {
        e.value
        for e in elements
        if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in REGISTRY
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_keeps_a_table_of_op_names(path):
    tables = [
        (node.lineno, sorted(names))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        for names in [op_names_in(node.value)]
        if len(names) > 1
    ]
    assert not tables, f"{path.name} lists op names at {tables}: make them OpDef fields"


def test_the_check_finds_a_table():
    tree = ast.parse('VIEWS = frozenset({"transpose", "reshape"})\nRULES = ("cse", "fold")')
    assert op_names_in(tree.body[0].value) == {"transpose", "reshape"}
    assert op_names_in(tree.body[1].value) == set()
