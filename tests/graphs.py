"""A hypothesis strategy for random graphs built from the registry's float ops.

    from graphs import random_graphs

    @given(random_graphs())
    def test_something(case):
        outputs, values = case  # a list of nodes, and a value for every leaf by name

The leaves are an input `x` of shape (None, 4), params `W` (4, 4), `b` (4,) and `s` ();
x is fed with a batch of 4, since static shapes let the batch dimension meet W's 4 rows.
Each step applies a registry op (with the attrs of one of its samples) to earlier nodes,
skipping combinations whose shapes do not fit. The outputs are the sinks of the DAG, so
every op built is reachable from them. Ops whose samples are positive (log, sqrt, div,
pow) get positive inputs through softplus(.) + 0.5. Values are continuous random draws,
so kinks are hit only with probability zero. Fused ops registered by passes join in.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import graphc as gc
from graphc.ops.registry import FLOAT_DTYPES, REGISTRY, F, apply

# ops whose meaning involves more than their inputs (state names, training masks)
EXCLUDED = {"update_state", "select_mode", "dropout_mask", "axis_size"}


def _float_samples(name: str) -> list:
    samples = REGISTRY[name].samples(np.random.default_rng(0))
    return [
        (arrays, attrs) for arrays, attrs in samples if all(a.dtype.kind == "f" for a in arrays)
    ]


def float_ops() -> list[str]:
    """Registry ops that take float inputs and make float outputs (the DAG building blocks)."""
    names = []
    for name, op in sorted(REGISTRY.items()):
        if op.leaf or op.nondiff or op.samples is None or name in EXCLUDED:
            continue
        if _float_samples(name):
            names.append(name)
    return names


def _positive(name: str) -> bool:
    return all(np.all(a > 0) for arrays, _ in _float_samples(name) for a in arrays)


def _leaves():
    return [gc.input("x", (None, 4)), gc.param("W", (4, 4)), gc.param("b", (4,)), gc.param("s", ())]


@st.composite
def random_graphs(draw, max_ops: int = 8, ops: list[str] | None = None, batch: int = 4):
    """(outputs, values): a random DAG of up to `max_ops` registry ops, and leaf values."""
    names = ops if ops is not None else float_ops()
    nodes = _leaves()
    built = []
    for _ in range(draw(st.integers(1, max_ops))):
        name = draw(st.sampled_from(names))
        _, attrs = draw(st.sampled_from(_float_samples(name)))
        # the first input is usually a built node, so graphs grow deep as well as wide
        first = draw(st.sampled_from(built)) if built and draw(st.booleans()) else None
        args = [draw(st.sampled_from(nodes)) for _ in range(REGISTRY[name].arity)]
        args[0] = first if first is not None else args[0]
        if _positive(name):
            args = [F.softplus(a) + 0.5 for a in args]
        try:
            node = apply(name, *args, **attrs)
        except gc.GraphError:  # shapes that do not fit: try another op
            continue
        if node.dtype in FLOAT_DTYPES:
            nodes.append(node)
            built.append(node)
    if not built:
        built.append(nodes[0] * nodes[2])
    used = {i.id for n in built for i in n.inputs}
    outputs = [n for n in built if n.id not in used]  # the sinks: every built op is reached
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = {
        leaf.name: rng.normal(size=(batch, 4) if leaf.name == "x" else leaf.shape)
        for leaf in _leaves()
    }
    return outputs, values


def imported_modules(source: str) -> tuple[set[str], set[str]]:
    """(the top-level packages a generated module imports, those only its `write_onnx`
    imports: the optional onnx package, for the script's --onnx)."""
    import ast

    def found(tree) -> set[str]:
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        return {name.split(".")[0] for name in names}

    body = ast.parse(source).body
    onnx = [s for s in body if isinstance(s, ast.FunctionDef) and s.name == "write_onnx"]
    rest = ast.Module([s for s in body if s not in onnx], [])
    return found(rest), set().union(*map(found, onnx))
