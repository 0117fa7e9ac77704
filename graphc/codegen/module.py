"""A generated Python module: copied kernels and helpers, constants, functions; its source
text is what gets compiled, so what a user reads is what runs."""

from __future__ import annotations

import ast
import base64
import inspect
import linecache
import types

import numpy as np

from ..ops import windows_kernels
from . import pool, runtime
from .names import Namer, literal, np_dtype


def _top_level_names(module: types.ModuleType) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments)."""
    names = set()
    for statement in ast.parse(inspect.getsource(module)).body:
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


# what generated code may call besides NumPy (windows_kernels: the convolution's windows)
HELPER_MODULES = (runtime, pool, windows_kernels)
_HELPERS = {name: module for module in HELPER_MODULES for name in _top_level_names(module)}


def helper_takes_out(name: str) -> bool:
    """Whether runtime helper `name` can write its result into a given buffer (`out=`)."""
    function = getattr(_HELPERS.get(name), name, None)
    return callable(function) and "out" in inspect.signature(function).parameters


class Module:
    """Collects the pieces of one generated module and renders/compiles its source."""

    def __init__(self, doc: str):
        self.doc = doc
        # the helpers' names are reserved up front: no user variable may shadow a helper
        # the module copies later
        self.namer = Namer(set(_HELPERS))
        self.imports: list[str] = ["import numpy as np"]
        self.preamble: list[str] = []  # top-level blocks copied verbatim (helper modules)
        self.copied: set[str] = set()  # the helper modules copied, by name
        self.constants: list[str] = []
        self.constant_names: dict[tuple, str] = {}  # by dtype, shape and bytes
        self.blocks: list[str] = []

    def helper(self, name: str) -> str:
        """A helper (select, dropout_mask, buffers) by name; the module defining it is
        copied whole into this one on first use."""
        self.copy_module(_HELPERS[name])
        return name

    def constant(self, array: np.ndarray, hint: str = "c", name: str | None = None) -> str:
        """A module-level constant holding `array` exactly (named `name`, or a fresh name
        from `hint`); its name, which is an earlier constant's when the values are equal."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key in self.constant_names:
            return self.constant_names[key]
        name = self.constant_names[key] = name or self.namer.internal(hint)
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

    def array_scalar(self, value, dtype: str) -> str:
        """A module-level 0-d array holding `value` in `dtype`: as an operand of a NumPy call
        it costs less than a Python number or a NumPy scalar, which NumPy converts on
        every call (in scalar arithmetic it costs more: that keeps NumPy scalars)."""
        array = np.asarray(value, dtype=dtype)
        key = ("0-d", array.dtype.str, array.tobytes())
        if key not in self.constant_names:
            hint = {0.0: "zero", 1.0: "one"}.get(float(array), "k")
            name = self.constant_names[key] = self.namer.internal(hint)
            self.constants.append(
                f"{name} = np.array({literal(array.item())}, dtype={np_dtype(array.dtype.name)})"
            )
        return self.constant_names[key]

    def copy_module(self, module: types.ModuleType) -> None:
        """Copy a module whole: its imports into the header, every other top-level
        statement (functions, constants) into the preamble, its docstring left out."""
        if module.__name__ in self.copied:
            return
        self.copied.add(module.__name__)
        source = inspect.getsource(module)
        for statement in ast.parse(source).body:
            if isinstance(statement, ast.ImportFrom) and statement.level > 0:
                continue  # graphc's own modules: the file carries copies of what it uses
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                line = ast.unparse(statement)
                if line not in self.imports:
                    self.imports.insert(len(self.imports) - 1, line)  # numpy stays last
            elif not (
                isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            ):
                self.preamble.append(ast.get_source_segment(source, statement) + "\n")
        self.namer.taken.update(_top_level_names(module))

    def add(self, block: str) -> None:
        """Append a top-level block (a function definition or statements)."""
        self.blocks.append(block.rstrip() + "\n")

    def add_table(self, block: str) -> None:
        """Add a module-level table the command line reads, before the last block (the one
        holding `if __name__ == "__main__":`)."""
        self.blocks.insert(max(len(self.blocks) - 1, 0), block.rstrip() + "\n")

    def source(self) -> str:
        """The whole module's source."""
        doc = self.doc.replace("\\", "/").replace('"', "'")  # no way out of the docstring
        parts = [f'"""{doc}"""\n', "\n".join(self.imports) + "\n"]
        parts += self.preamble
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
