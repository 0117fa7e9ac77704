"""The JAX renderer: a lowered graph becomes one pure function of arrays, one `jnp`
statement per node, no buffers and no in-place writes (XLA plans the memory).

An op with a NumPy `emit` template is written with the template's `np.` calls as `jnp.`
calls (NumPy and jax.numpy spell these functions alike); an op that NumPy lowers by
calling a kernel calls the kernel of the same name from jax_kernels.py, copied into the
module. Dropout draws its mask from the function's PRNG key, one `fold_in` per layer.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import GraphError
from ..ir import Node, topological_order
from ..ops.registry import FLOAT_DTYPES, REGISTRY, result_dtype
from .jax_module import JaxModule
from .names import comment
from .steps import literal

KERNELS = Path(__file__).parent / "jax_kernels.py"


class JaxFunction:
    """Renders one pure function: leaves read from pytrees, one statement per node."""

    def __init__(self, module: JaxModule, key: str | None = None, rate: Callable | None = None):
        self.module = module
        self.key = key  # the PRNG key dropout masks are drawn from
        self.rate = rate  # node -> source of its dropout rate
        self.var: dict[int, str] = {}
        self.lines: list[str] = []
        self.dropouts = 0

    def body(self, outputs: list[Node], leaves: dict[int, tuple[str, str]], names: dict) -> None:
        """Statements computing `outputs`; `leaves` maps a leaf's id to (variable, source).
        The leaves are read first, then one statement per node in topological order."""
        reads, statements = [], []
        for node in topological_order(outputs):
            if node.op == "const":
                continue
            if node.is_leaf:
                if node.id not in leaves:
                    raise GraphError(
                        f"the graph needs {node.op} {node.name!r} (made at {node.site}), "
                        "which is not among the function's inputs"
                    )
                self.var[node.id], source = leaves[node.id]
                reads.append(f"{self.var[node.id]} = {source}")
                continue
            target = self.module.namer.fresh(names.get(node.id) or node.name, node.op)
            line = f"{target} = {self._expression(node)}"
            if REGISTRY[node.op].emit is None:  # a kernel call: say what the op is
                line += f"  # {comment(REGISTRY[node.op].display(node), 50)}"
            statements.append(line)
            self.var[node.id] = target
        self.lines += reads + statements

    def value(self, node: Node) -> str:
        """The source of `node`'s value after the body (a variable, or a constant)."""
        if node.op == "const":
            return self._operand(node, node)
        return self.var[node.id]

    def _expression(self, node: Node) -> str:
        opdef = REGISTRY[node.op]
        args = [self._operand(x, node) for x in node.inputs]
        if node.op == "dropout_mask":
            key = f"jax.random.fold_in({self.key}, {self.dropouts})"
            self.dropouts += 1
            rate = self.rate(node) if self.rate else literal(node.attrs["rate"])
            return f"dropout_mask({key}, {args[0]}, {rate})"
        if opdef.emit is not None:
            template = opdef.emit.replace("np.", "jnp.")
            attrs = {k: literal(v) for k, v in node.attrs.items()}
            return template.format(*args, **attrs)
        if opdef.kernel is None:
            raise GraphError(f"{node.site}: op {node.op!r} cannot be lowered to JAX")
        name = opdef.kernel.__name__
        self.module.copy_file(KERNELS, [name])
        attrs = "".join(f", {k}={literal(v)}" for k, v in node.attrs.items())
        return f"{name}({', '.join(args)}{attrs})"

    def _operand(self, x: Node, user: Node) -> str:
        if x.op != "const":
            return self.var[x.id]
        value = x.attrs["value"]
        floats = [i for i in user.inputs if i.op != "const" and i.dtype in FLOAT_DTYPES]
        # a Python number is weakly typed in JAX as in NumPy: it may stand in for the
        # const only when the other operands already give the result's dtype
        weak_ok = user.dtype == "bool" or (floats and result_dtype(*floats) == user.dtype)
        if value.ndim == 0 and np.isfinite(value) and weak_ok and value.dtype.kind in "fb":
            number = bool(value) if value.dtype.kind == "b" else float(value)
            return f"({number!r})" if number < 0 else repr(number)
        if x.id not in self.var:
            self.var[x.id] = self.module.constant(value)
        return self.var[x.id]


def is_installed() -> bool:
    """Whether JAX can be imported here (checked without importing it)."""
    return importlib.util.find_spec("jax") is not None
