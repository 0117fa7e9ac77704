"""No module keeps a table of op names: what the passes, the IR, evaluation, the
differentiation modes and the pictures know about an op they read off its `OpDef` (see
test_op_facts.py). Rules name the ops they match, one rule at a time; a module-level
collection of op names is a second home for an op's facts, which a newly registered op would
not be in.

graphc/codegen is not scanned: its renderers keep tables of the target's array-API functions
(Python's operator for "add", "greater", "matmul"; NumPy's reduction for "sum", "max"),
whose names many ops share by spelling; what lowering knows of an op it reads off the op
(`array_fn`, `decompose`)."""

import ast
import pathlib

import pytest

from graphc.ops.registry import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "graphc"
MODULES = sorted(
    [
        *(PACKAGE / "passes").glob("*.py"),
        *(PACKAGE / "diff").glob("*.py"),
        *(ROOT / "visual").glob("*.py"),
    ]
    + [PACKAGE / "ir.py", PACKAGE / "evaluate.py"]
)
# Tables keyed by something else, some of whose keys are spelled like ops: the look of each
# kind of node, where the leaf kinds (input, param, state, const) are the leaf ops' names.
NOT_OP_TABLES = {("visual/style.py", "NODE_STYLE")}


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


def assigned_name(node: ast.Assign | ast.AnnAssign) -> str:
    """The name a module-level assignment binds (its first target)."""
    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
    return getattr(target, "id", "")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_keeps_a_table_of_op_names(path):
    module = str(path.relative_to(ROOT))
    tables = [
        (node.lineno, sorted(names))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        if (module, assigned_name(node)) not in NOT_OP_TABLES
        for names in [op_names_in(node.value)]
        if len(names) > 1
    ]
    assert not tables, f"{path.name} lists op names at {tables}: make them OpDef fields"


def test_the_check_finds_a_table():
    tree = ast.parse('VIEWS = frozenset({"transpose", "reshape"})\nRULES = ("cse", "fold")')
    assert op_names_in(tree.body[0].value) == {"transpose", "reshape"}
    assert op_names_in(tree.body[1].value) == set()
