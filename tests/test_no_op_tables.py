"""No module keeps a table of op names: what the top-level modules, the passes, the IR,
evaluation, the differentiation modes, lowering and the pictures know about an op they read
off its `OpDef` (see test_op_facts.py). Rules name the ops they match, one rule at a time; a
module-level collection of op names is a second home for an op's facts, which a newly
registered op would not be in.

graphc/codegen's renderers keep tables of the target's array-API functions (Python's operator
for "add", "greater", "matmul"; NumPy's reduction for "sum", "max"), which ops name in
`OpDef.array_fn` and many share by spelling: there, only names that are ops and no op's
`array_fn` count."""

import ast
import pathlib

import pytest

from graphc.ops.registry import REGISTRY

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "graphc"
MODULES = sorted(
    [
        *PACKAGE.glob("*.py"),
        *(PACKAGE / "passes").glob("*.py"),
        *(PACKAGE / "diff").glob("*.py"),
        *(PACKAGE / "codegen").glob("*.py"),
        *(ROOT / "visual").glob("*.py"),
    ]
)
# Tables keyed by something else, some of whose keys are spelled like ops: the look of each
# kind of node, where the leaf kinds (input, param, state, const) are the leaf ops' names.
NOT_OP_TABLES = {("visual/style.py", "NODE_STYLE")}


ARRAY_FUNCTIONS = {op.array_fn for op in REGISTRY.values()} | {
    op.helper for op in REGISTRY.values()
}


def op_names_in(value: ast.expr, names: set[str] = frozenset(REGISTRY)) -> set[str]:
    """The op names (of `names`) written as the elements (or keys) of a collection literal."""
    if isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("frozenset", "set"):
        value = value.args[0] if value.args else value
    elements = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", [])
    return {
        e.value
        for e in elements
        if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in names
    }


def assigned_name(node: ast.Assign | ast.AnnAssign) -> str:
    """The name a module-level assignment binds (its first target)."""
    target = node.targets[0] if isinstance(node, ast.Assign) else node.target
    return getattr(target, "id", "")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_keeps_a_table_of_op_names(path):
    module = str(path.relative_to(ROOT))
    names = set(REGISTRY) - (ARRAY_FUNCTIONS if module.startswith("graphc/codegen/") else set())
    tables = [
        (node.lineno, sorted(found))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        if (module, assigned_name(node)) not in NOT_OP_TABLES
        for found in [op_names_in(node.value, names)]
        if len(found) > 1
    ]
    assert not tables, f"{path.name} lists op names at {tables}: make them OpDef fields"


def test_the_check_finds_a_table():
    tree = ast.parse('VIEWS = frozenset({"transpose", "reshape"})\nRULES = ("cse", "fold")')
    assert op_names_in(tree.body[0].value) == {"transpose", "reshape"}
    assert op_names_in(tree.body[1].value) == set()
