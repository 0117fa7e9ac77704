"""The NumPy emitter: a graph becomes one readable Python function, one statement per node.

Each op's source comes from its OpDef: the `emit` template, flattened into NumPy calls
that can write `out=` (see steps.py), or, without a template, a call to the op's kernel,
whose source is copied into the module. Buffers are planned (plan.py) so that a training
step allocates little: dead temporaries are overwritten in place, and pooled buffers
persist across calls (so a lowered function is not re-entrant).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError
from ..ir import Node, as_list, topological_order
from ..ops.registry import FLOAT_DTYPES, REGISTRY, result_dtype
from .module import Module
from .names import comment
from .plan import plan
from .steps import Flattener, Step, literal, render, template_source

ELEMENTWISE = frozenset({"add", "sub", "mul", "div", "pow", "maximum", "prelu", "where",
                         "greater", "greater_equal", "less", "less_equal", "equal"})


@dataclass
class Body:
    """What `emit_body` produced: statements, the variable of each node, pooled buffers."""

    lines: list[str]
    var: dict[int, str]
    scratch: set[str]  # kept variables that nothing else shares: free to overwrite after
    buffers: list = field(default_factory=list)


def simplify_for_emission(outputs: Sequence[Node]) -> tuple[list[Node], dict, dict]:
    """Merge structurally equal nodes and look through broadcasts NumPy does by itself.

    Returns the topological order of what is still needed, for each kept node the operands
    to emit it with (a `broadcast_like` feeding an elementwise op whose other operand
    already has the full shape is replaced by its source), and each node's kept image.
    """
    canonical: dict[tuple, Node] = {}
    image: dict[int, Node] = {}
    operands: dict[int, list[Node]] = {}
    for node in topological_order(list(outputs)):
        ins = [image[i.id] for i in node.inputs]
        if node.op in ELEMENTWISE:
            ins = [_look_through(x, node, ins) for x in ins]
        key = node.structural_key if node.is_leaf else (
            node.op, tuple(i.id for i in ins), node.structural_key[2], node.dtype)
        kept = canonical.setdefault(key, node)
        image[node.id] = kept
        operands.setdefault(kept.id, ins)
    roots = [image[o.id] for o in outputs]
    needed, stack = {}, list(roots)
    while stack:
        node = stack.pop()
        if node.id not in needed:
            needed[node.id] = node
            stack.extend(operands[node.id])
    order = [n for n in topological_order(list(outputs)) if n.id in needed and
             image[n.id] is n]
    return order, {n.id: operands[n.id] for n in order}, image


def _sums_of_squares(order: list[Node], operands: dict, outputs: list[Node]) -> dict[int, int]:
    """sum(mul(a, a)) over all axes, where nothing else reads the product: sum id -> mul id."""
    uses: dict[int, int] = {o.id: 1 for o in outputs}
    for node in order:
        for x in operands[node.id]:
            uses[x.id] = uses.get(x.id, 0) + 1
    found = {}
    for node in order:
        if node.op != "sum" or node.attrs["keepdims"] or node.shape != ():
            continue
        (m,) = operands[node.id]
        if m.op == "mul" and uses.get(m.id) == 1 and m.dtype in FLOAT_DTYPES:
            a, b = operands[m.id]
            if a is b and a.op != "const" and a.dtype == m.dtype:
                found[node.id] = m.id
    return found


def _look_through(x: Node, user: Node, ins: list[Node]) -> Node:
    if x.op != "broadcast_like" or x.shape != user.shape:
        return x
    if any(o is not x and o.shape == user.shape for o in ins):
        return x.inputs[0]
    return x


def _site(node: Node) -> str:
    site = node.site or ""
    path, _, line = site.rpartition(":")
    where = f"{os.path.basename(path)}:{line}" if path else site
    return f"{where} [{node.scope}]" if node.scope else where


class FunctionEmitter:
    """Emits the body of one function of a module."""

    def __init__(self, module: Module, rng_var: str | None = None, dropout_rate=None):
        self.module = module
        self.rng_var = rng_var  # when set, dropout masks are fresh draws from this generator
        self.dropout_rate = dropout_rate  # node -> source of its rate (default: the attr)
        self.steps: list[Step] = []
        self.shapes: dict[str, tuple | None] = {}
        self.dtypes: dict[str, str | None] = {}
        self.var: dict[int, str] = {}
        self.seen: dict[tuple, str] = {}  # computed steps, for reusing template temporaries

    def emit_body(self, outputs: Sequence[Node], args: dict[int, str], names: dict[int, str],
                  escaping: Iterable[Node], keep: Iterable[Node] = ()) -> Body:
        """Statements computing `outputs` from the argument variables `args` (node id -> name).

        `names` suggests variable names; `escaping` nodes keep their values after the
        function returns (they get fresh arrays); `keep` nodes are read by statements the
        caller appends (they stay live); everything else may use pooled buffers.
        """
        order, operands, image = simplify_for_emission(outputs)
        by_id = {n.id: n for n in order}
        leaves = []
        for node in order:
            if node.is_leaf and node.op != "const":
                if node.id not in args:
                    raise GraphError(f"the graph needs {node.op} {node.name!r} (made at "
                                     f"{node.site}), which is not among the function's inputs")
                self._bind(node, args[node.id])
                leaves.append(args[node.id])
        squares = _sums_of_squares(order, operands, [image[o.id] for o in outputs])
        first_step: dict[int, int] = {}
        for node in order:
            if node.is_leaf or node.id in squares.values():
                continue
            target = self.module.namer.fresh(names.get(node.id) or node.name, node.op)
            first_step[len(self.steps)] = node.id
            if node.id in squares:  # sum(a * a) over everything: one pass, no temporary
                a = self.var[operands[squares[node.id]][0].id]
                self.steps.append(Step("expr", f"np.vdot({a}, {a})", [], shape=(),
                                       dtype=node.dtype, target=target, refs=[a]))
                self._bind(node, target)
                continue
            self._emit_node(node, operands[node.id], target)
        for out in outputs:  # a constant output is copied, so callers cannot change it
            node = image[out.id]
            if node.op == "const" and node.id not in self.var:
                target = self.module.namer.fresh(names.get(out.id) or node.name, "const")
                source = self.module.constant(node.attrs["value"])
                self.steps.append(Step("expr", f"{source}.copy()", [], shape=node.shape,
                                       dtype=node.dtype, target=target))
                self._bind(node, target)
        escaping_vars = {self.var[image[n.id].id] for n in escaping}
        kept = [self.var[image[n.id].id] for n in keep]
        buffers, storages = plan(self.steps, leaves, escaping_vars, set(kept), self.shapes,
                                 self.dtypes)
        scratch = set()
        for name in kept:
            mine = storages.get(name, [])
            shared = any(s in storages.get(other, ()) for s in mine
                         for other in set(kept) | escaping_vars if other != name)
            if len(mine) == 1 and mine[0].writable and not shared and kept.count(name) == 1:
                scratch.add(name)
        lines = []
        for i, step in enumerate(self.steps):
            text = f"{step.target} = {render(step)}"
            if i in first_step:
                src = by_id[first_step[i]]
                label = REGISTRY[src.op].display(src)
                label = label if label.startswith(src.op) else f"{src.op} {label}"
                text += f"  # {comment(label, 40)}  ({comment(_site(src), 60)})"
            lines.append(text)
        var = {n.id: self.var[image[n.id].id] for n in
               topological_order(list(outputs)) if image[n.id].id in self.var}
        return Body(lines, var, scratch, buffers)

    def _bind(self, node: Node, name: str) -> None:
        self.var[node.id] = name
        self.shapes[name] = node.shape
        self.dtypes[name] = node.dtype

    def _operand(self, x: Node, user: Node, ins: list[Node]) -> tuple[str, str]:
        """("var", name) or ("lit", source) for one input of `user`."""
        if x.op != "const":
            return ("var", self.var[x.id])
        value = x.attrs["value"]
        floats = [i for i in ins if i.op != "const" and i.dtype in FLOAT_DTYPES]
        # A Python number takes the dtype of the arrays it meets (NEP 50), so it may stand
        # in for the const only when the other operands already give the node's dtype.
        weak_ok = user.dtype == "bool" or (floats and result_dtype(*floats) == user.dtype)
        if value.ndim == 0 and np.isfinite(value) and weak_ok and value.dtype.kind in "fb":
            return ("lit", repr(bool(value)) if value.dtype.kind == "b" else repr(float(value)))
        if x.id not in self.var:
            self._bind(x, self.module.constant(value))
        return ("var", self.var[x.id])

    def _reuse_temporaries(self, steps: list[Step]) -> list[Step]:
        """Drop a template's inner step that an earlier statement already computed (PReLU's
        `x > 0` in the forward and the backward). Variables never change while live, so
        the earlier one still holds the value."""
        kept, renamed = [], {}
        for k, step in enumerate(steps):
            step.args = [("var", renamed.get(t, t)) if kind == "var" else (kind, t)
                         for kind, t in step.args]
            key = (step.kind, step.func, tuple(step.args), tuple(step.kwargs.items()))
            if k < len(steps) - 1 and step.kind in ("ufunc", "reduce") and key in self.seen:
                renamed[step.target] = self.seen[key]
                continue
            if step.kind in ("ufunc", "reduce"):
                self.seen.setdefault(key, step.target)
            kept.append(step)
        return kept

    def _new_temp(self) -> str:
        return self.module.namer.internal("t")

    def _emit_node(self, node: Node, ins: list[Node], target: str) -> None:
        opdef = REGISTRY[node.op]
        args = [self._operand(x, node, ins) for x in ins]
        if node.op == "dropout_mask" and self.rng_var:
            helper = self.module.helper("dropout_mask")
            rate = self.dropout_rate(node) if self.dropout_rate else literal(node.attrs["rate"])
            step = Step("call", helper, [("var", self.rng_var)] + args, {"rate": rate})
            steps = [step]
        elif opdef.emit is None:
            if opdef.kernel is None:
                raise GraphError(f"{node.site}: op {node.op!r} cannot be lowered (no kernel; "
                                 "is the graph specialized for a mode?)")
            name = self.module.kernel(opdef.kernel)
            steps = [Step("call", name, args, {k: literal(v) for k, v in node.attrs.items()})]
        else:
            literals = {text for kind, text in args if kind == "lit"}

            def shape_of(operand):
                return () if operand[1] in literals else self.shapes.get(operand[1])

            flattener = Flattener(self._new_temp, shape_of)
            source = template_source(opdef.emit, len(args), dict(node.attrs))
            steps = flattener.flatten(source, [text for _, text in args], node.shape, node.dtype)
            for step in steps:  # the flattener sees every operand as a name
                step.args = [("lit", t) if t in literals else (k, t) for k, t in step.args]
                step.refs = [r for r in step.refs if r not in literals]
        steps[-1].target, steps[-1].shape, steps[-1].dtype = target, node.shape, node.dtype
        steps = self._reuse_temporaries(steps)
        for step in steps:
            if step.kind == "select":
                self.module.helper("select")
            self.shapes[step.target] = step.shape
            self.dtypes[step.target] = step.dtype
        self.steps.extend(steps)
        self.var[node.id] = target



def function_source(name: str, params: list[str], body: Body, returns: str,
                    batch: str | None, module: Module, prologue: Sequence[str] = (),
                    epilogue: Sequence[str] = (), doc: str = "") -> str:
    """A complete `def` with the buffer pool prologue, the body and the return."""
    lines = [f"def {name}({', '.join(params)}):"]
    if doc:
        lines.append(f'    """{comment(doc, 90)}"""')
    lines += [f"    {line}" for line in prologue]
    if body.buffers:
        pool = module.namer.internal(f"pool_{name}")
        alloc = module.namer.internal(f"alloc_{name}")
        shapes = [_shape_source(b.shape) for b in body.buffers]
        allocs = ", ".join(f"np.empty({s}, dtype=np.{b.dtype})"
                           for s, b in zip(shapes, body.buffers))
        module.add(f"def {alloc}(n):\n    return ({allocs},)\n\n\n{pool} = {{}}")
        names = ", ".join(b.name for b in body.buffers)
        key = batch if batch and any(None in b.shape for b in body.buffers) else "0"
        lines += [f"    {names}, = {pool}.get({key}) or {pool}.setdefault({key}, {alloc}({key}))"]
    lines += [f"    {line}" for line in body.lines]
    lines += [f"    {line}" for line in epilogue]
    lines.append(f"    return {returns}")
    return "\n".join(lines) + "\n"


def _shape_source(shape: tuple) -> str:
    dims = ["n" if d is None else str(int(d)) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def batch_source(args: Sequence[tuple[Node, str]]) -> str | None:
    """Source for the run-time batch size: the first None axis of an argument."""
    for node, name in args:
        if None in node.shape:
            return f"{name}.shape[{node.shape.index(None)}]"
    return None


def as_outputs(outputs) -> list[Node]:
    """Accept one node or a sequence of nodes."""
    return as_list(outputs)


def prepare(outputs: Sequence[Node], training: bool) -> list[Node]:
    """The graph as it will be lowered: specialized for the mode, then optimized."""
    from ..ops.layers import specialize

    graph = specialize(list(outputs), training)
    try:
        from ..passes import optimize
    except ImportError:  # the passes are optional: emission also works on the raw graph
        return graph
    result = optimize(graph)
    return list(getattr(result, "outputs", result))


@dataclass
class Lowered:
    """A compiled function and the Python source it was compiled from."""

    fn: object
    source: str
    args: list[str]  # the argument names in the source (safe identifiers)
    name: str
    leaves: list = field(default_factory=list, repr=False)  # the leaf of each argument

    def __call__(self, *args):
        """Run the compiled function (positional arguments in `args` order)."""
        return self.fn(*args)

    def run(self, values: dict):
        """Run with arrays by leaf name, as gc.evaluate takes them (state leaves default to
        their initial values)."""
        from ..evaluate import leaf_value

        return self.fn(*[leaf_value(leaf, values) for leaf in self.leaves])

    def __repr__(self) -> str:
        lines = len(self.source.splitlines())
        return f"<Lowered {self.name}({', '.join(self.args)}): {lines} lines>"


def lower(outputs, inputs=None, *, training: bool = False, name: str = "f",
          optimize: bool = True, reuse_outputs: bool = False) -> Lowered:
    """Compile `outputs` into a NumPy function of `inputs`; return it with its source.

    `inputs` are leaf nodes (or their names) in argument order; by default every input,
    param and state leaf of the graph. The function returns one array per output (one
    array for a single node). It keeps its work buffers between calls, so call it from
    one thread at a time; with `reuse_outputs` the returned arrays are such buffers too
    (no allocation per call, but the next call overwrites them).
    """
    single = isinstance(outputs, Node)
    outs = as_list(outputs)
    graph = prepare(outs, training) if optimize else _specialize(outs, training)
    args = _resolve_inputs(outs, inputs)
    module = Module(f"Generated by graphc.lower: {comment(name, 60)}.")
    fn_name = module.namer.fresh(name, "f")
    arg_vars = {leaf.id: module.namer.fresh(leaf.name, "arg") for leaf in args}
    # specialize/optimize keep leaves, so the argument nodes are found in the new graph
    emitter = FunctionEmitter(module)
    body = emitter.emit_body(graph, arg_vars, {o.id: o.name for o in graph if o.name},
                             escaping=[] if reuse_outputs else graph,
                             keep=graph if reuse_outputs else [])
    coerce = [f"{arg_vars[leaf.id]} = np.asarray({arg_vars[leaf.id]}, dtype=np.{leaf.dtype})"
              for leaf in args]
    results = [body.var[o.id] for o in graph]
    returns = results[0] if single else f"({', '.join(results)},)"
    batch = batch_source([(leaf, arg_vars[leaf.id]) for leaf in args])
    module.add(function_source(fn_name, [arg_vars[a.id] for a in args], body, returns, batch,
                               module, prologue=coerce))
    namespace = module.compile(f"<graphc.lower {fn_name}>")
    return Lowered(namespace[fn_name], module.source(), [arg_vars[a.id] for a in args], fn_name,
                   list(args))


def _specialize(outputs, training):
    from ..ops.layers import specialize

    return specialize(outputs, training)


def _resolve_inputs(outputs: list[Node], inputs) -> list[Node]:
    from ..ir import leaves

    available = leaves(outputs)
    by_name = {leaf.name: leaf for leaf in available if leaf.op != "const"}
    if inputs is None:
        return [leaf for kind in ("input", "param", "state") for leaf in available
                if leaf.op == kind]
    result = []
    for item in as_list(inputs) if isinstance(inputs, Node) else list(inputs):
        if isinstance(item, str):
            if item not in by_name:
                raise GraphError(f"gc.lower: the graph has no input, param or state named "
                                 f"{item!r}; it has {', '.join(sorted(by_name)) or 'none'}")
            item = by_name[item]
        if not isinstance(item, Node) or not item.is_leaf or item.op == "const":
            raise GraphError(f"gc.lower: inputs must be input/param/state leaves or their "
                             f"names, got {item!r}")
        result.append(item)
    return result
