"""gc.lower: a graph becomes one NumPy function, one statement per primitive node.

The graph is specialized for the mode and optimized (`prepare`), planned (plan.py, which
decomposes it first) and rendered by the fast renderer (render_fast.py: a pool of work
buffers, one set per batch size, kept between calls, so a lowered function is not
re-entrant); the module is compiled and the function handed back with its source.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..checks import as_array, check_min_batch, check_training
from ..errors import GraphError
from ..feeds import batch_size, check_ids, class_counts, min_batch
from ..ir import Node, as_list, leaves, remember_orders, topological_order
from ..limits import check_arrays, check_table, size_table
from ..ops.registry import REGISTRY
from ..passes.specialization import specialize
from . import render_fast, render_jax, render_readable
from .module import Module
from .names import comment, np_dtype
from .plan import plan_function
from .prepare import prepare


def batch_source(args: Sequence[tuple[Node, str]]) -> str | None:
    """Source for the run-time batch size: the first None axis of an argument."""
    for node, name in args:
        if None in node.shape:
            return f"{name}.shape[{node.shape.index(None)}]"
    return None


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a graph is lowered: lowering builds
    hundreds of thousands of small acyclic objects (nodes, keys, statements), and each
    collection would walk all of them again for nothing (a third of the time of a
    20,000-node export). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Lowered:
    """A compiled function and the Python source it was compiled from."""

    fn: object
    source: str
    args: list[str]  # the argument names in the source (safe identifiers)
    name: str
    leaves: list = field(default_factory=list, repr=False)  # the leaf of each argument
    # (argument position, number of classes) of each class-id argument: an id out of range
    # picks no one-hot row and would count as a zero loss
    class_ids: list = field(default_factory=list, repr=False)
    # the largest array per number of batch dimensions (limits.size_table), checked per call
    sizes: list = field(default_factory=list, repr=False)
    min_batch: tuple | None = None  # (rows, why) the ops need in training mode (batch norm)

    def __post_init__(self) -> None:
        self._batch_axes = [
            [k for k, d in enumerate(leaf.shape) if d is None] for leaf in self.leaves
        ]

    def __call__(self, *args):
        """Run the compiled function (positional arguments in `args` order), after the
        checks gc.evaluate makes: class ids, one non-empty batch, sizes, lossless casts."""
        args = (
            tuple(
                arg
                if getattr(arg, "dtype", None) == leaf.dtype
                and not isinstance(arg, np.ma.MaskedArray)
                else as_array(arg, leaf.dtype, f"the argument {name!r}")
                for arg, leaf, name in zip(args, self.leaves, self.args)
            )
            + args[len(self.leaves) :]
        )
        for position, classes in self.class_ids:
            if position < len(args):
                what = f"the argument {self.args[position]!r}"
                check_ids(args[position], classes, what, self.leaves[position].site)
        rows = self._rows(args)
        check_min_batch(rows, self.min_batch, self.name)
        check_table(self.sizes, rows, self.name)
        try:
            return self.fn(*args)
        except (ValueError, TypeError, IndexError):
            self._check(args)  # checked only on failure: a call costs nothing extra
            raise

    def _rows(self, args) -> int | None:
        """The batch size of the arguments; feeds.batch_size words any disagreement."""
        rows = None
        for position, leaf in enumerate(self.leaves):
            if leaf.op == "input" and None in leaf.shape and position < len(args):
                shape = np.shape(args[position])
                sizes = {shape[k] if k < len(shape) else None for k in self._batch_axes[position]}
                size = sizes.pop() if len(sizes) == 1 else None
                if size is None or size == 0 or rows not in (None, size):
                    rows = -1
                    break
                rows = size
        if rows == -1:
            fed = {leaf.name: arg for leaf, arg in zip(self.leaves, args) if leaf.op == "input"}
            rows = batch_size(self.leaves, fed, self.name)
        return rows

    def _check(self, args) -> None:
        """Raise a GraphError naming the argument that does not fit its leaf, if one does not."""
        from ..evaluation import leaf_value

        if len(args) != len(self.leaves):
            raise GraphError(
                f"{self.name} takes {len(self.leaves)} arguments "
                f"({', '.join(self.args)}), got {len(args)}"
            )
        for leaf, value in zip(self.leaves, args):
            leaf_value(leaf, {leaf.name: value})  # batch sizes are checked before the call

    def run(self, values: dict):
        """Run with arrays by leaf name, as gc.evaluate takes them (state leaves default to
        their initial values)."""
        from ..evaluation import leaf_value

        return self(*[leaf_value(leaf, values) for leaf in self.leaves])

    def __repr__(self) -> str:
        lines = len(self.source.splitlines())
        return f"<Lowered {self.name}({', '.join(self.args)}): {lines} lines>"


def lower(
    outputs,
    inputs=None,
    *,
    training: bool = False,
    name: str = "f",
    optimize: bool = True,
    reuse_outputs: bool = False,
    target: str = "fast",
) -> Lowered:
    """Compile `outputs` into a function of `inputs`; return it with its source.

    `target` picks the renderer of the one plan: "fast" (NumPy with reused buffers, what
    gc.export runs), "readable" (plain NumPy, one line per statement) or "jax" (a jitted
    jax.numpy function; needs JAX).

    `inputs` are leaf nodes (or their names) in argument order; by default every input,
    param and state leaf of the graph. The function returns one array per output (one
    array for a single node). It keeps its work buffers between calls, so call it from
    one thread at a time; with `reuse_outputs` the returned arrays are such buffers too
    (no allocation per call, but the next call overwrites them). Every None in the
    graph's shapes stands for one batch size, read from the first input that has one.
    """
    training = check_training(training, "gc.lower")
    if target not in RENDERERS:
        raise GraphError(f"gc.lower: target must be one of {', '.join(RENDERERS)}, got {target!r}")
    with collector_paused(), remember_orders():
        return _lower(outputs, inputs, training, name, optimize, reuse_outputs, target)


def _lower(outputs, inputs, training, name, optimize, reuse_outputs, target) -> Lowered:
    single = isinstance(outputs, Node)
    outs = as_list(outputs)
    check_arrays(topological_order(outs), None, "gc.lower")  # what no batch size can fit
    graph = prepare(outs, training) if optimize else specialize(outs, training)
    args = _resolve_inputs(outs, inputs)
    module = _module(target, f"Generated by gc.lower: {comment(name, 60)}.")
    fn_name = module.namer.fresh(name, "f")
    arg_vars = {leaf.id: module.namer.fresh(leaf.name, "arg") for leaf in args}
    # specialize/optimize keep leaves, so the argument nodes are found in the new graph
    plan = plan_function(
        graph,
        arg_vars,
        module.namer,
        names=[o.name for o in graph],
        escaping=[not reuse_outputs] * len(graph),
        keep=[reuse_outputs] * len(graph),
        native=_native(target),
    )
    params = [arg_vars[a.id] for a in args]
    RENDERERS[target](module, fn_name, plan, args, params, single)
    namespace = module.compile(f"<gc.lower {fn_name}>")
    counts = class_counts(outs)
    class_ids = [
        (k, counts[a.name]) for k, a in enumerate(args) if a.op == "input" and a.name in counts
    ]
    return Lowered(
        namespace[fn_name],
        module.source(),
        params,
        fn_name,
        list(args),
        class_ids,
        size_table(topological_order(graph)),
        min_batch(topological_order(graph)) if training else None,
    )


def _native(target: str) -> frozenset[str]:
    """The ops the target's runtime computes whole."""
    if target != "jax":
        return frozenset()
    from .jax_module import native_ops

    return native_ops()


def _module(target: str, doc: str) -> Module:
    if target != "jax":
        return Module(doc)
    from .jax_module import JaxModule, runtime_path
    from .render_jax import is_installed

    if not is_installed():
        raise GraphError("gc.lower(target='jax') needs JAX: pip install 'graphc[jax]'")
    module = JaxModule(doc)
    # the ops' runtime helpers (windows, overlap_add), and the seeded mask dropout_mask's
    # op stands for outside training
    helpers = {op.helper for op in REGISTRY.values() if op.helper} - {"dropout_mask"}
    module.copy_file(runtime_path(), {"seeded_dropout_mask", *helpers, *_native(target)})
    module.namer.taken.update(("jax", "jnp", "np"))  # no argument shadows a module
    return module


def _coerce(params: list[str], leaves: list[Node], prefix: str) -> list[str]:
    """Lines making each argument an array of its leaf's dtype."""
    return [
        f"{v} = {prefix}.asarray({v}, dtype={prefix}.{np_dtype(a.dtype)[3:]})"
        for v, a in zip(params, leaves)
    ]


def _returns(results: list[str], single: bool) -> str:
    return results[0] if single else f"({', '.join(results)},)"


def _fast(module, fn_name, plan, leaves, params, single) -> None:
    """The function in fast NumPy: buffers pooled per batch size, results maybe reused."""
    body = render_fast.render_body(module, plan)
    coerce = _coerce(params, leaves, "np")
    batch = batch_source(list(zip(leaves, params)))
    returns = _returns(plan.results, single)
    source = render_fast.function_source(
        fn_name, params, body, returns, batch, module, prologue=coerce
    )
    module.add(source)


def _readable(module, fn_name, plan, leaves, params, single) -> None:
    """The function in plain NumPy, one line per statement."""
    lines, results = render_readable.render_body(module, plan)
    coerce = _coerce(params, leaves, "np")
    body = [*coerce, *lines, f"return {_returns(results, single)}"]
    module.add(f"def {fn_name}({', '.join(params)}):\n" + "".join(f"    {b}\n" for b in body))


def _jax(module, fn_name, plan, leaves, params, single) -> None:
    """The function in jax.numpy, jitted (float64 graphs switch JAX to 64-bit)."""
    if any(d == "float64" for d in plan.dtypes.values()):
        module.preamble.insert(0, 'jax.config.update("jax_enable_x64", True)\n')
    lines, results = render_jax.render_body(module, plan)
    coerce = _coerce(params, leaves, "jnp")
    body = [*coerce, *lines, f"return {_returns(results, single)}"]
    header = f"@jax.jit\ndef {fn_name}({', '.join(params)}):\n"
    module.add(header + "".join(f"    {b}\n" for b in body))


# the renderers of one plan, by target
RENDERERS = {"fast": _fast, "readable": _readable, "jax": _jax}


def _resolve_inputs(outputs: list[Node], inputs) -> list[Node]:
    available = leaves(outputs)
    by_name = {leaf.name: leaf for leaf in available if leaf.op != "const"}
    if inputs is None:
        return [
            leaf for kind in ("input", "param", "state") for leaf in available if leaf.op == kind
        ]
    result = []
    for item in as_list(inputs) if isinstance(inputs, Node) else list(inputs):
        if isinstance(item, str):
            if item not in by_name:
                raise GraphError(
                    f"gc.lower: the graph has no input, param or state named "
                    f"{item!r}; it has {', '.join(sorted(by_name)) or 'none'}"
                )
            item = by_name[item]
        if not isinstance(item, Node) or not item.is_leaf or item.op == "const":
            raise GraphError(
                f"gc.lower: inputs must be input/param/state leaves or their names, got {item!r}"
            )
        if any(item is other for other in result):
            raise GraphError(f"gc.lower: {item.op} {item.name!r} is given twice in inputs")
        result.append(item)
    return result
