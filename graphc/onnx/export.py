"""gc.to_onnx: the inference graph as an ONNX model, rendered from the lowering plan.

The graph is specialized for inference (batch norm with its running statistics, dropout
the identity), optimized and planned exactly as for generated NumPy code
(graphc/codegen/plan.py): one statement per array-API primitive. This module is the plan's
ONNX renderer: it knows only how ONNX spells each primitive (`SAME` for the one-node
spellings, `SPECIAL` for the rest), so an op that decomposes into known primitives
exports with no work here, and a primitive ONNX cannot say is refused with one error
naming the node and the user's line.

Inputs become graph inputs (a None dimension is the symbolic batch dimension "N"),
params and state become initializers named as in graphc (the state's names are listed in
the model's metadata under "graphc.frozen", so that importing keeps them untrained), and
each statement's variable (the graphc node's name where it has one) names its ONNX value
and node.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from ..codegen.decompose import primitive_graph
from ..codegen.lowering import collector_paused, prepare
from ..codegen.names import Namer, comment
from ..codegen.plan import Plan, Statement, plan_function
from ..evaluation import init_params, init_state, leaf_value
from ..files import write_bytes
from ..ir import as_list, leaves, remember_orders, topological_order
from ..ops.registry import REGISTRY
from .errors import OnnxError, require_onnx

DEFAULT_OPSET = 18  # axes are inputs of every reduction from 18 on; runtimes read it widely
MIN_OPSET = 13  # ReduceSum's and Unsqueeze's axes became inputs in 13
BATCH = "N"  # the symbolic dimension every None of a graphc shape stands for
FROZEN_KEY = "graphc.frozen"  # metadata: initializers that are not trained (state)

ELEM_TYPES = {"float64": 11, "float32": 1, "int64": 7, "int32": 6, "bool": 9}  # TensorProto

# primitives that are one ONNX node taking the same operands, each cast to the result dtype
SAME = {
    "add": "Add",
    "subtract": "Sub",
    "multiply": "Mul",
    "divide": "Div",
    "power": "Pow",
    "maximum": "Max",
    "matmul": "MatMul",
    "negative": "Neg",
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "abs": "Abs",
    "sign": "Sign",
    "tanh": "Tanh",
    "copy": "Identity",
}
# comparisons: their operands are cast to one common dtype, the result is boolean
COMPARE = {
    "greater": "Greater",
    "greater_equal": "GreaterOrEqual",
    "less": "Less",
    "less_equal": "LessOrEqual",
    "equal": "Equal",
}


def to_onnx(
    outputs,
    path: str | os.PathLike | None = None,
    *,
    values: Mapping | None = None,
    opset: int | None = None,
    name: str = "graphc",
):
    """The inference graph of `outputs` as an ONNX ModelProto, written to `path` if given.

    Params and state take their arrays from `values` (by name; trained params, say), else
    their initial values. The model passes `onnx.checker.check_model(full_check=True)`.
    """
    onnx = require_onnx()
    opset = _check_opset(DEFAULT_OPSET if opset is None else opset)
    outs = as_list(outputs)
    with collector_paused(), remember_orders():
        graph = prepare(outs, training=False)
        args = leaves(graph, "input") + leaves(graph, "param") + leaves(graph, "state")
        namer = Namer()
        arg_vars = {leaf.id: namer.fresh(leaf.name, "arg") for leaf in args}
        plan = plan_function(
            graph, arg_vars, namer, names=[o.name for o in outs], escaping=[True] * len(graph)
        )
        unspoken = [s for s in plan.statements if not _speakable(s)]
        if unspoken:
            _refuse(graph, unspoken[0])
    arrays = _arrays(outs, args, values)
    renderer = _Renderer(onnx, opset, plan, namer, {arg_vars[a.id]: a.name for a in args})
    model = renderer.model(args, arrays, graph, name)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # a graphc bug, not the user's: say which check failed
        raise OnnxError(f"the exported model fails the ONNX checker: {error}") from None
    if path is not None:
        write_bytes(path, model.SerializeToString())
    return model


def _check_opset(opset) -> int:
    onnx = require_onnx()
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise OnnxError(
            f"gc.to_onnx: opset must be an int from {MIN_OPSET} to {newest} (the newest the "
            f"installed onnx package knows), got {opset!r}"
        )
    return opset


def _speakable(statement: Statement) -> bool:
    if statement.helper:
        return statement.call in HELPERS
    return statement.call in SAME or statement.call in COMPARE or statement.call in SPECIAL


def _refuse(graph, statement: Statement) -> None:
    """Raise the error naming the graphc node (and the user's line) behind `statement`."""
    primitives, origins = primitive_graph(graph)
    for node in topological_order(primitives):
        opdef = REGISTRY[node.op]
        if node.is_leaf or (opdef.helper or opdef.array_fn) != statement.call:
            continue
        origin = origins.roots.get(node.id, node)
        what = "a runtime helper" if statement.helper else "an array-API primitive"
        raise OnnxError(
            f"{node.site}: {origin.op} {origin.name or statement.target!r} cannot be written "
            f"as ONNX: it computes {what} ({statement.call!r}) that graphc's ONNX exporter "
            "cannot spell"
        )
    raise OnnxError(f"{statement.comment}: {statement.call!r} cannot be written as ONNX")


def _arrays(outs, args, values) -> dict[str, np.ndarray]:
    """The initializers' arrays by leaf name: `values`, else the initial values."""
    known = init_params(outs) | init_state(outs)
    if values is not None:
        if not isinstance(values, Mapping):
            raise OnnxError(f"gc.to_onnx: values must be a dict of arrays by name, got {values!r}")
        known |= {k: v for k, v in values.items() if k in known}
    return {a.name: leaf_value(a, known) for a in args if a.op != "input"}


def onnx_shape(shape: tuple) -> list:
    """A graphc shape as ONNX dims: None is the symbolic batch dimension."""
    return [BATCH if d is None else int(d) for d in shape]


class _Renderer:
    """Builds the ONNX graph statement by statement; every name it makes is fresh."""

    def __init__(self, onnx, opset: int, plan: Plan, namer: Namer, arg_names: dict):
        self.onnx, self.helper, self.opset, self.plan = onnx, onnx.helper, opset, plan
        self.namer = namer
        self.names = dict(arg_names)  # plan variable -> ONNX value name
        self.nodes: list = []
        self.cache: dict = {}  # (operand, dtype) -> value name: one Cast or Constant each

    # ---- the model ------------------------------------------------------------------

    def model(self, args, arrays, graph, name):
        """The ModelProto: inputs, initializers, the statements' nodes and the outputs."""
        helper, numpy_helper = self.helper, self.onnx.numpy_helper
        inputs = [
            helper.make_tensor_value_info(a.name, ELEM_TYPES[a.dtype], onnx_shape(a.shape))
            for a in args
            if a.op == "input"
        ]
        initializers = [
            numpy_helper.from_array(arrays[a.name], a.name) for a in args if a.op != "input"
        ]
        for var, array in self.plan.constants.items():
            self.names[var] = var
            self.node("Constant", [], var, value=numpy_helper.from_array(np.asarray(array), var))
        for statement in self.plan.statements:
            self.statement(statement)
        outputs, seen = [], set()
        for var, node in zip(self.plan.results, graph):
            value = self.names[var]
            if value in seen or value in arrays or any(value == i.name for i in inputs):
                value = self.node("Identity", [value], self.namer.fresh(f"{var}_out"))
            seen.add(value)
            outputs.append(
                helper.make_tensor_value_info(value, ELEM_TYPES[node.dtype], onnx_shape(node.shape))
            )
        declared = {o.name for o in outputs}
        # every statement's value with graphc's shape and dtype: viewers show them, and the
        # checker's shape inference must agree with graphc's on each
        value_info = [
            helper.make_tensor_value_info(
                s.target, ELEM_TYPES[s.dtype], onnx_shape(self.plan.shapes[s.target])
            )
            for s in self.plan.statements
            if s.target not in declared
        ]
        body = helper.make_graph(
            self.nodes, comment(name, 60), inputs, outputs, initializers, value_info=value_info
        )
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(
            body,
            opset_imports=opsets,
            producer_name="graphc",
            ir_version=helper.find_min_ir_version_for(opsets),
        )
        frozen = [a.name for a in args if a.op == "state"]
        if frozen:
            helper.set_model_props(model, {FROZEN_KEY: ",".join(frozen)})
        return model

    def node(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        """Append one ONNX node; returns its output's name (fresh unless given)."""
        output = output or self.namer.internal("v")
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def constant(self, value, dtype: str) -> str:
        """A Constant node holding `value` as `dtype`, shared by equal constants."""
        array = np.asarray(value, dtype=dtype)
        key = ("const", array.dtype.str, array.shape, array.tobytes())
        if key not in self.cache:
            name = self.namer.internal("c")
            tensor = self.onnx.numpy_helper.from_array(array, name)
            self.cache[key] = self.node("Constant", [], name, value=tensor)
        return self.cache[key]

    def ints(self, values) -> str:
        """A 1-d int64 Constant (axes, shapes, indices)."""
        return self.constant(np.asarray(tuple(values), dtype=np.int64).reshape(-1), "int64")

    # ---- operands ---------------------------------------------------------------------

    def dtype_of(self, operand: tuple) -> str | None:
        """The dtype of a variable operand (None for a Python literal)."""
        return self.plan.dtypes[operand[1]] if operand[0] == "var" else None

    def tensor(self, operand: tuple, dtype: str) -> str:
        """The ONNX value of a statement operand, cast to `dtype` where it differs."""
        kind = operand[0]
        if kind == "lit":
            return self.constant(operand[1], dtype)
        if kind == "shape":
            source = ("shape", operand[1])
            if source not in self.cache:
                self.cache[source] = self.node("Shape", [self.names[operand[1]]])
            return self.cache[source]
        if kind == "size":
            value = self._size(operand[1], operand[2])
            have = "int64"
        else:
            value, have = self.names[operand[1]], self.plan.dtypes[operand[1]]
        if have == dtype:
            return value
        key = (value, dtype)
        if key not in self.cache:
            self.cache[key] = self.node("Cast", [value], to=ELEM_TYPES[dtype])
        return self.cache[key]

    def _size(self, var: str, axes: tuple) -> str:
        """The number of elements of `var` along `axes`, an int64 scalar."""
        if not axes:
            return self.constant(1, "int64")
        dims = self.node("Gather", [self.tensor(("shape", var), "int64"), self.ints(axes)])
        return self.node("ReduceProd", [dims], keepdims=0)

    # ---- statements -------------------------------------------------------------------

    def statement(self, s: Statement) -> None:
        """The ONNX nodes computing one statement into a value named after its target."""
        self.names[s.target] = s.target
        if s.call in SAME:
            operands = [self.tensor(a, s.dtype) for a in s.args]
            self.node(SAME[s.call], operands, s.target)
        elif s.helper:
            HELPERS[s.call](self, s)
        elif s.call in COMPARE:
            common = _common_dtype([self.dtype_of(a) for a in s.args], s.args)
            operands = [self.tensor(a, common) for a in s.args]
            self.node(COMPARE[s.call], operands, s.target)
        else:
            SPECIAL[s.call](self, s)

    def reduce(self, op_type: str, s: Statement, data: str, axes, keepdims: bool) -> None:
        """A reduction over `axes` (None: all); axes are an input from `since` on."""
        if axes is not None and len(axes) == 0:
            self.node("Identity", [data], s.target)  # np.sum(x, axis=()) is x
            return
        since = 13 if op_type == "ReduceSum" else 18
        inputs, attrs = [data], {"keepdims": int(keepdims)}
        if axes is not None and self.opset >= since:
            inputs.append(self.ints(axes))
        elif axes is not None:
            attrs["axes"] = list(axes)
        self.node(op_type, inputs, s.target, **attrs)


def _common_dtype(dtypes: list, args: list) -> str:
    """The dtype a comparison's operands meet in (a float literal makes integers float)."""
    known = [np.dtype(d) for d in dtypes if d is not None]
    common = np.result_type(*known).name if known else "float64"
    floats = any(a[0] == "lit" and isinstance(a[1], float) for a in args)
    return "float64" if floats and common not in ("float32", "float64") else common


def _logaddexp(r: _Renderer, s: Statement) -> None:
    """log(e^a + e^b) as max + log1p(e^-|a - b|), with log1p(y) = y * log(u) / (u - 1),
    u = 1 + y (exact to a few ulps, where log(1 + y) would lose y below 1e-16); a == b
    (two equal infinities too) gives a + log 2, as NumPy's."""
    a, b = (r.tensor(x, s.dtype) for x in s.args)
    top = r.node("Max", [a, b])
    y = r.node("Exp", [r.node("Neg", [r.node("Abs", [r.node("Sub", [a, b])])])])
    one = r.constant(1.0, s.dtype)
    u = r.node("Add", [one, y])
    ratio = r.node("Div", [r.node("Mul", [y, r.node("Log", [u])]), r.node("Sub", [u, one])])
    log1p = r.node("Where", [r.node("Equal", [u, one]), y, ratio])
    tie = r.node("Add", [a, r.constant(np.log(2.0), s.dtype)])
    r.node("Where", [r.node("Equal", [a, b]), tie, r.node("Add", [top, log1p])], s.target)


def _expm1(r: _Renderer, s: Statement) -> None:
    """e^x - 1 without cancellation: u - 1 where |x| > 1/2, else Kahan's (u - 1) * x / log u
    (x itself where u rounds to 1), u = e^x: exact to a few ulps, as np.expm1."""
    x = r.tensor(s.args[0], s.dtype)
    u = r.node("Exp", [x])
    one = r.constant(1.0, s.dtype)
    less = r.node("Sub", [u, one])
    kahan = r.node("Mul", [less, r.node("Div", [x, r.node("Log", [u])])])
    small = r.node("Where", [r.node("Equal", [u, one]), x, kahan])
    far = r.node("Greater", [r.node("Abs", [x]), r.constant(0.5, s.dtype)])
    r.node("Where", [far, less, small], s.target)


def _where(r: _Renderer, s: Statement) -> None:
    c, a, b = s.args
    r.node("Where", [r.tensor(c, "bool"), r.tensor(a, s.dtype), r.tensor(b, s.dtype)], s.target)


def _sum(r: _Renderer, s: Statement) -> None:
    r.reduce("ReduceSum", s, r.tensor(s.args[0], s.dtype), s.kwargs["axis"], s.kwargs["keepdims"])


def _max(r: _Renderer, s: Statement) -> None:
    r.reduce("ReduceMax", s, r.tensor(s.args[0], s.dtype), s.kwargs["axis"], s.kwargs["keepdims"])


def _vdot(r: _Renderer, s: Statement) -> None:
    product = r.node("Mul", [r.tensor(a, s.dtype) for a in s.args])
    r.reduce("ReduceSum", s, product, None, False)


def _asarray(r: _Renderer, s: Statement) -> None:
    r.node("Identity", [r.tensor(s.args[0], s.kwargs["dtype"])], s.target)


def _transpose(r: _Renderer, s: Statement) -> None:
    x, axes = s.args
    r.node("Transpose", [r.tensor(x, s.dtype)], s.target, perm=list(axes[1]))


def _reshape(r: _Renderer, s: Statement) -> None:
    x, shape = s.args
    r.node("Reshape", [r.tensor(x, s.dtype), r.ints(shape[1])], s.target)


def _expand_dims(r: _Renderer, s: Statement) -> None:
    x, axes = s.args
    r.node("Unsqueeze", [r.tensor(x, s.dtype), r.ints(axes[1])], s.target)


def _broadcast_to(r: _Renderer, s: Statement) -> None:
    x, shape = s.args
    target = r.tensor(shape, "int64") if shape[0] == "shape" else r.ints(shape[1])
    r.node("Expand", [r.tensor(x, s.dtype), target], s.target)


def _take(r: _Renderer, s: Statement) -> None:
    """np.take: a Python int index drops the axis (a scalar), an index array gathers."""
    x, index = s.args
    ids = r.constant(np.int64(index[1]), "int64") if index[0] == "lit" else r.tensor(index, "int64")
    r.node("Gather", [r.tensor(x, s.dtype), ids], s.target, axis=int(s.kwargs.get("axis", 0)))


def _pad(r: _Renderer, s: Statement) -> None:
    """np.pad with zeros: widths ((before, after) per axis) as ONNX's begins, then ends."""
    x, widths = s.args
    pads = [int(w[0]) for w in widths[1]] + [int(w[1]) for w in widths[1]]
    r.node("Pad", [r.tensor(x, s.dtype), r.ints(pads)], s.target, mode="constant")


# the primitives that take more than one same-named ONNX node
SPECIAL = {
    "logaddexp": _logaddexp,
    "expm1": _expm1,
    "where": _where,
    "sum": _sum,
    "max": _max,
    "vdot": _vdot,
    "asarray": _asarray,
    "transpose": _transpose,
    "reshape": _reshape,
    "expand_dims": _expand_dims,
    "broadcast_to": _broadcast_to,
    "take": _take,
    "pad": _pad,
}


def _windows(r: _Renderer, s: Statement) -> None:
    """The convolution ops' `windows` helper: every window of x (N, C, *size), padded
    with `fill`, as (N, *positions, C, *kernel). ONNX has no such op, so the spatial axes
    are flattened and gathered at precomputed flat indices (exact for every dtype, where a
    Conv with one-hot weights would run in float32 only on common runtimes)."""
    (x,) = s.args
    k = s.kwargs
    kernel, stride, dilation = k["kernel"], k["stride"], k["dilation"]
    padding, d = k["padding"], len(k["kernel"])
    data = r.tensor(x, s.dtype)
    size = r.plan.shapes[x[1]][2:]
    if any(lo or hi for lo, hi in padding):
        pads = [0, 0, *(lo for lo, _ in padding), 0, 0, *(hi for _, hi in padding)]
        fill = r.constant(k.get("fill", 0.0), s.dtype)
        data = r.node("Pad", [data, r.ints(pads), fill], mode="constant")
    padded = [n + lo + hi for n, (lo, hi) in zip(size, padding)]
    channels = r.plan.shapes[x[1]][1]
    flat = r.node("Reshape", [data, r.ints([0, channels, int(np.prod(padded))])])
    spans = [g * (n - 1) + 1 for n, g in zip(kernel, dilation)]
    counts = [(p - span) // st + 1 for p, span, st in zip(padded, spans, stride)]
    grids = np.meshgrid(
        *[np.arange(m) * st for m, st in zip(counts, stride)],
        *[np.arange(n) * g for n, g in zip(kernel, dilation)],
        indexing="ij",
    )
    coordinates = [grids[i] + grids[d + i] for i in range(d)]
    index = np.ravel_multi_index(coordinates, padded).astype(np.int64)
    gathered = r.node("Gather", [flat, r.constant(index, "int64")], axis=2)
    perm = [0, *range(2, 2 + d), 1, *range(2 + d, 2 + 2 * d)]
    r.node("Transpose", [gathered], s.target, perm=perm)


def _window_reduce(r: _Renderer, s: Statement, op_type: str) -> None:
    """Pooling's helpers (window_max, window_mean): the windows gathered as `windows` gathers
    them (padded with -inf for a maximum, 0 for a mean), reduced over the kernel axes (the
    mean as their sum over the kernel size), as (N, C, *positions)."""
    d = len(s.kwargs["kernel"])
    fill = -np.inf if op_type == "ReduceMax" else 0.0
    kwargs = dict(s.kwargs, dilation=(1,) * d, fill=fill)
    gathered = dataclasses.replace(s, target=r.namer.internal("v"), call="windows", kwargs=kwargs)
    _windows(r, gathered)
    reduced = dataclasses.replace(s, target=r.namer.internal("v"))
    r.reduce(op_type, reduced, gathered.target, tuple(range(d + 2, 2 * d + 2)), False)
    perm = [0, d + 1, *range(1, d + 1)]
    if op_type == "ReduceMax":
        r.node("Transpose", [reduced.target], s.target, perm=perm)
        return
    pooled = r.node("Transpose", [reduced.target], perm=perm)
    count = r.constant(float(np.prod(s.kwargs["kernel"])), s.dtype)
    r.node("Div", [pooled, count], s.target)


# the runtime helpers (target-specific functions) ONNX can say; dropout's random mask is not
HELPERS = {
    "windows": _windows,
    "window_max": lambda r, s: _window_reduce(r, s, "ReduceMax"),
    "window_mean": lambda r, s: _window_reduce(r, s, "ReduceSum"),
}
