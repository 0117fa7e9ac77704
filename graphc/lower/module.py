"""A generated Python module: copied kernels and helpers, constants, functions; its source
text is what gets compiled, so what a user reads is what runs."""

from __future__ import annotations

import ast
import base64
import dis
import inspect
import linecache
import textwrap
import types

import numpy as np

from ..errors import GraphError
from ..ops.registry import REGISTRY
from . import runtime
from .names import Namer, np_dtype
from .steps import literal

HELPERS = ("select", "dropout_mask", "buffers")


class Module:
    """Collects the pieces of one generated module and renders/compiles its source."""

    def __init__(self, doc: str):
        self.doc = doc
        # names of copyable kernels and helpers are reserved up front: no user variable
        # may shadow a function the module defines later
        kernels = {
            op.kernel.__name__
            for op in REGISTRY.values()
            if op.emit is None and op.kernel is not None and op.kernel.__name__.isidentifier()
        }
        self.namer = Namer(kernels | set(HELPERS) | set(_RUNTIME_GLOBALS))
        self.imports: list[str] = ["import numpy as np"]
        self.preamble: list[str] = []  # top-level blocks copied verbatim (the training loop)
        self.definitions: dict[str, str] = {}  # kernels and helpers, by name, in first-use order
        self.constants: list[str] = []
        self.blocks: list[str] = []

    def kernel(self, fn, rewrite: bool = True) -> str:
        """Copy a module-level function (and the functions of its module it calls); its name."""
        name = fn.__name__
        if name in self.definitions:
            return name
        if not name.isidentifier() or name == "<lambda>":
            raise GraphError(f"kernel {fn!r} has no name to call; give its op an emit template")
        for ref in _global_names(fn.__code__):
            value = fn.__globals__.get(ref)
            if isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
                self.kernel(value)
            elif ref in fn.__globals__ and ref != "np" and not isinstance(value, types.ModuleType):
                if ref in ("_SAME_SIZE_INT", "_MASKS"):
                    self.definitions.setdefault(ref, _RUNTIME_GLOBALS[ref])
                    continue
                raise GraphError(
                    f"kernel {name} uses the global {ref!r}, which generated code cannot carry"
                )
        source, uses_select = textwrap.dedent(inspect.getsource(fn)), False
        tree = ast.parse(source).body
        if not (tree and isinstance(tree[0], ast.FunctionDef) and tree[0].name == name):
            raise GraphError(
                f"the source of kernel {name} in {fn.__code__.co_filename} no "
                "longer matches the loaded function (edited since import?)"
            )
        if rewrite:
            source, uses_select = faster_calls(source)
        if uses_select:
            self.helper("select")
        self.definitions[name] = source.rstrip() + "\n"
        self.namer.taken.add(name)
        return name

    def helper(self, name: str) -> str:
        """Copy one of the runtime helpers (select, dropout_mask); its name."""
        return self.kernel(getattr(runtime, name), rewrite=False)

    def constant(self, array: np.ndarray, hint: str = "c") -> str:
        """A module-level constant holding `array` exactly; its name."""
        name = self.namer.internal(hint)
        array = np.asarray(array)
        dtype = np_dtype(array.dtype.name)
        if array.ndim == 0 and np.isfinite(array).all() and array.dtype.kind in "fiub":
            value = f"{dtype}({literal(array.item())})"
        elif array.size <= 32 and array.dtype.kind in "fiub" and np.isfinite(array).all():
            value = f"np.array({array.tolist()!r}, dtype={dtype})"
        else:  # exact bits, any size, NaN and inf included
            if "base64" not in " ".join(self.imports):
                self.imports.insert(0, "import base64")
            data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
            value = (
                f"np.frombuffer(base64.b64decode({data!r}), dtype={dtype})"
                f".reshape({literal(tuple(int(d) for d in array.shape))}).copy()"
            )
        self.constants.append(f"{name} = {value}")
        return name

    def copy_module(self, module: types.ModuleType) -> None:
        """Copy a module's functions into the preamble and its imports into the header."""
        source = inspect.getsource(module)
        for statement in ast.parse(source).body:
            if isinstance(statement, ast.ImportFrom) and statement.level > 0:
                continue  # graphc's own modules: the file carries copies of what it uses
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                line = ast.unparse(statement)
                if line not in self.imports:
                    self.imports.insert(len(self.imports) - 1, line)  # numpy stays last
            elif isinstance(statement, ast.FunctionDef):
                self.preamble.append(ast.get_source_segment(source, statement) + "\n")
                self.namer.taken.add(statement.name)

    def add(self, block: str) -> None:
        """Append a top-level block (a function definition or statements)."""
        self.blocks.append(block.rstrip() + "\n")

    def source(self) -> str:
        """The whole module's source."""
        doc = self.doc.replace("\\", "/").replace('"', "'")  # no way out of the docstring
        parts = [f'"""{doc}"""\n', "\n".join(self.imports) + "\n"]
        parts += self.preamble + list(self.definitions.values())
        if self.constants:
            parts.append("\n".join(self.constants) + "\n")
        parts += self.blocks
        return "\n\n".join(parts)

    def compile(self, filename: str) -> dict:
        """Execute the source in a fresh namespace (registered for tracebacks); the namespace."""
        source = self.source()
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict = {"__name__": filename}
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own checked source
        return namespace


# NumPy's np.sum/np.max wrappers cost microseconds per call before reaching the ufunc
# reduction they call; on small arrays that dominates a training step. Same results.
_REDUCTIONS = {
    "sum": "np.add.reduce",
    "max": "np.maximum.reduce",
    "min": "np.minimum.reduce",
    "prod": "np.multiply.reduce",
}


def faster_calls(source: str) -> tuple[str, bool]:
    """`source` with np.sum/max/min/prod(x, ...) as ufunc reductions and 3-argument np.where
    as the branch-free `select` (comments kept); whether `select` is now used."""
    edits = []
    for call in ast.walk(ast.parse(source)):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "np"
        ):
            continue
        attr = call.func.attr
        # only with an explicit axis: np.max(x) reduces every axis, np.maximum.reduce(x) one
        has_axis = len(call.args) == 2 or any(k.arg == "axis" for k in call.keywords)
        if (
            attr in _REDUCTIONS
            and has_axis
            and len(call.args) <= 2
            and all(k.arg in ("axis", "keepdims", "out") for k in call.keywords)
        ):
            edits.append((call.func, _REDUCTIONS[attr]))
        elif attr == "where" and len(call.args) == 3 and not call.keywords:
            edits.append((call.func, "select"))
    lines = source.splitlines(True)
    for func, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        line = lines[func.lineno - 1]
        lines[func.lineno - 1] = line[: func.col_offset] + text + line[func.end_col_offset :]
    return "".join(lines), any(text == "select" for _, text in edits)


def _global_names(code) -> list[str]:
    """Names a function loads as globals (attribute names such as np.sum's `sum` excluded)."""
    names = [
        i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    ]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_names(const)
    return names


_RUNTIME_GLOBALS = {  # the module-level values runtime.py's helpers read
    "_SAME_SIZE_INT": "_SAME_SIZE_INT = {np.dtype(np.float32): np.int32, "
    "np.dtype(np.float64): np.int64}\n",
    "_MASKS": "_MASKS = {}  # select's scratch masks, one per shape\n",
}
