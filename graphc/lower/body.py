"""Statements for one function body: each surviving node becomes one statement (or a few,
for a template such as PReLU's), with `out=` buffers planned by plan.py.

Each op's source comes from its OpDef: the `emit` template, flattened into NumPy calls
that can write `out=` (see steps.py), or, without a template, a call to the op's kernel,
whose source is copied into the module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError
from ..ir import Node, topological_order
from ..ops.registry import FLOAT_DTYPES, REGISTRY, result_dtype
from .module import Module
from .names import comment, np_dtype
from .plan import plan
from .steps import Flattener, Step, literal, render, template_source

ELEMENTWISE = frozenset(
    {
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "maximum",
        "prelu",
        "where",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "equal",
    }
)


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
        key = (
            node.structural_key
            if node.is_leaf
            else (node.op, tuple(i.id for i in ins), node.structural_key[2], node.dtype)
        )
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
    order = [n for n in topological_order(list(outputs)) if n.id in needed and image[n.id] is n]
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

    def emit_body(
        self,
        outputs: Sequence[Node],
        args: dict[int, str],
        names: dict[int, str],
        escaping: Iterable[Node],
        keep: Iterable[Node] = (),
    ) -> Body:
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
                    raise GraphError(
                        f"the graph needs {node.op} {node.name!r} (made at "
                        f"{node.site}), which is not among the function's inputs"
                    )
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
                self.steps.append(
                    Step(
                        "expr",
                        f"np.vdot({a}, {a})",
                        [],
                        shape=(),
                        dtype=node.dtype,
                        target=target,
                        refs=[a],
                    )
                )
                self._bind(node, target)
                continue
            self._emit_node(node, operands[node.id], target)
        for out in outputs:  # a constant output is copied, so callers cannot change it
            node = image[out.id]
            if node.op == "const" and node.id not in self.var:
                target = self.module.namer.fresh(names.get(out.id) or node.name, "const")
                source = self.module.constant(node.attrs["value"])
                self.steps.append(
                    Step(
                        "expr",
                        f"{source}.copy()",
                        [],
                        shape=node.shape,
                        dtype=node.dtype,
                        target=target,
                    )
                )
                self._bind(node, target)
        escaping_vars = {self.var[image[n.id].id] for n in escaping}
        kept = [self.var[image[n.id].id] for n in keep]
        buffers, storages = plan(
            self.steps, leaves, escaping_vars, set(kept), self.shapes, self.dtypes
        )
        scratch = set()
        for name in kept:
            mine = storages.get(name, [])
            shared = any(
                s in storages.get(other, ())
                for s in mine
                for other in set(kept) | escaping_vars
                if other != name
            )
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
        # A value that leaves the body and may be a caller's array (or a view of one) is
        # copied: the caller may change what it gets back, and a training step updates
        # params in place after the body, so a gradient that is another param must not follow.
        # A kernel's result only may view its operands (most are fresh): checked at run time.
        leaf_of = {id(storages[name][0]): name for name in leaves}
        copies = {}
        for name in sorted(escaping_vars | set(kept)):
            sharing = [leaf_of[id(s)] for s in storages.get(name, ()) if id(s) in leaf_of]
            if not sharing:
                continue
            copies[name] = self.module.namer.fresh(name, "copy")
            if name in leaves:
                lines.append(f"{copies[name]} = {name}.copy()  # not the caller's array")
            else:
                views = " or ".join(f"np.may_share_memory({name}, {a})" for a in sharing)
                lines.append(f"{copies[name]} = {name}.copy() if {views} else {name}")
        var = {
            n.id: copies.get(v, v)
            for n in topological_order(list(outputs))
            if image[n.id].id in self.var
            for v in [self.var[image[n.id].id]]
        }
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
            step.args = [
                ("var", renamed.get(t, t)) if kind == "var" else (kind, t) for kind, t in step.args
            ]
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
        elif opdef.emit is None and (template := _static_template(node, ins)) is None:
            if opdef.kernel is None:
                raise GraphError(
                    f"{node.site}: op {node.op!r} cannot be lowered (no kernel; "
                    "is the graph specialized for a mode?)"
                )
            name = self.module.kernel(opdef.kernel)
            steps = [Step("call", name, args, {k: literal(v) for k, v in node.attrs.items()})]
        else:
            literals = {text for kind, text in args if kind == "lit"}

            def shape_of(operand):
                return () if operand[1] in literals else self.shapes.get(operand[1])

            flattener = Flattener(self._new_temp, shape_of)
            source = template_source(opdef.emit or template, len(args), dict(node.attrs))
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


def _static_template(node: Node, ins: list[Node]) -> str | None:
    """A NumPy template for a kernel op whose attrs and static shapes allow one, so that its
    steps skip the kernel call, reuse earlier temporaries (PReLU's `x > 0`) and write into
    buffers; None otherwise."""
    if node.op == "axis_size":  # a NumPy scalar: the scale arithmetic stays on scalars
        dims = " * ".join(f"{{0}}.shape[{a}]" for a in node.attrs["axis"]) or "1"
        return f"{np_dtype(node.attrs['dtype'])}({dims})"
    if node.op == "log_softmax":  # the shifted logits appear twice: one step, reused
        shifted = "({0} - np.max({0}, axis={axis}, keepdims=True))"
        return f"{shifted} - np.log(np.sum(np.exp({shifted}), axis={{axis}}, keepdims=True))"
    if node.op == "sum_to" and (axes := _leading_axes(ins[0], node)) is not None:
        return f"np.sum({{0}}, axis={axes})"  # a gradient summed over the batch
    if (
        node.op == "prelu_vjp_alpha"
        and node.attrs["axis"] == tuple(range(node.attrs["lead"]))
        and node.attrs["axis"]
    ):
        return "np.sum(np.where({0} > 0, 0, {1} * {0}), axis={axis})"
    return None


def _leading_axes(x: Node, node: Node) -> tuple[int, ...] | None:
    """The axes sum_to(x) sums when they are only leading ones (known from the static
    shapes): NumPy's reduction over them gives the target shape directly; else None."""
    lead = x.ndim - node.ndim
    if lead <= 0 or node.dtype not in FLOAT_DTYPES:
        return None
    for d, full in zip(node.attrs["shape"], x.shape[lead:]):
        if d == 1 and full != 1:  # a kept axis summed too (or an unknown size)
            return None
    return tuple(range(lead))
