"""The op registry: one `OpDef` per op holds everything graphc knows about that op.

An op's home (one module under `graphc/ops/`) registers its `OpDef` and defines the
user-facing builder next to it. Derivative rules are written with the same builders
users call (through `F`), so derivatives are ordinary graphs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import (
    ArgumentError,
    DtypeError,
    EvaluationError,
    GraphError,
    ShapeError,
    UnknownOpError,
)
from ..ir import LEAF_OPS, Node, current_scope, user_site

DTYPES = ("float64", "float32", "int64", "int32", "bool")
FLOAT_DTYPES = ("float64", "float32")

# Sentinels for the common shapes of a rule.
KERNEL = "kernel"  # sympy: the NumPy kernel already works on object arrays of SymPy expressions
MULTILINEAR = "multilinear"  # jvp: linear in each input, so the tangent goes through the op itself
BROADCAST = "broadcast"  # runtime_shape: inputs right-aligned with the output (see OpDef)


@dataclass(frozen=True)
class OpDef:
    """Everything about one op.

    name     lowercase op name, as stored in saved graphs
    arity    number of inputs
    infer    (attrs, *inputs) -> (shape, dtype); raises ShapeError/DtypeError on bad input
    kernel   NumPy implementation (*arrays, **attrs) -> array; a self-contained module-level
             function, because the exporter copies its source into generated files
    vjp      one rule per input, (cotangent, node) -> Node, or None where the input gets no
             gradient (integer labels, conditions); `nondiff` ops have no rules at all
    jvp      one rule per input, (tangent, node) -> Node, or MULTILINEAR
    sympy    (*object arrays of SymPy expressions, **attrs) -> object array, or KERNEL
    label    display label: a string, or a callable (node) -> str
    board    the local derivative of each input as the lecture writes it on the board, for
             the gate view: a callable (*input names) -> one text per input, e.g. for prelu
             (x, alpha) -> ("prelu'(x) = 1 if x > 0 else alpha", "x if x < 0 else 0"); "" for
             an input it says nothing about; None: the gate names the op's vjp rule instead
    samples  rng -> list of (input arrays, attrs) for the registry-wide tests
    kink     where the op is not differentiable: (*arrays) -> array that is 0 at a kink
    normalize (attrs, *inputs) -> attrs in canonical form (for hashing and saving)
    complex_step  opt-in: True when the kernel is analytic and runs on complex arrays
             (complex-step differentiation may pass through it), or a complex-safe analytic
             kernel to use instead of `kernel`; False (the default): not analytic (a kink, a
             comparison, `np.abs`), so the complex step refuses the op

    Short spellings: `nondiff=True` for an op whose derivative is zero wherever it exists
    (comparisons, sign, one_hot): no rules at all; a None rule for one input that gets no
    gradient; `jvp=MULTILINEAR` for an op linear in each input (the tangent goes through the
    op itself: sum, matmul, transpose). Reverse mode needs a transpose per input, so
    register() refuses `vjp=MULTILINEAR`.

    Facts the passes read (no pass keeps a table of op names):

    elementwise  each output element is computed from the input elements at the same
             (broadcast) position, so NumPy's broadcasting of an input gives what broadcasting
             it first would (simplify drops a `broadcast_like` input). Implies
             `runtime_shape=BROADCAST`.
    runtime_shape  how the output's run-time sizes follow the inputs' (passes/shapes.py):
             BROADCAST (the inputs right-aligned with the output; None dims that meet are
             one batch size), a function (node, *input_dims) -> one entry per output axis
             (an input's symbolic dim, an int, or None for a size of its own) or None for
             "unknown", or None: every None dim is a size of its own
    commutative  a binary op whose inputs may be swapped (CSE and rule patterns match both)
    shape_only  positions of the inputs the op reads only the shape of (dead-node
             elimination repoints them, folding needs only their static shape)
    linear   positions of inputs the op is jointly linear in (the others fixed): when all
             of them are zeros so is the result. Ops with `jvp=MULTILINEAR` are linear in
             each input alone, so any zero input gives zeros.
    foldable  False for ops that constant folding must leave alone (mode-dependent, random)
    view     the result is an input's memory (a view, the input itself) or read off its
             metadata: computing it moves no bytes
    flops    FLOPs per output element (an int), or a function (node with known shape) ->
             its total FLOPs, for the cost table
    mode     for an op whose meaning depends on training vs inference: (inputs, training) ->
             the node standing for it in that mode, or None to keep it (passes/specialization.py)
    saturates  an activation whose local derivative can vanish (a saturated sigmoid, a dead
             relu): `gc.saturation` reports it by default
    sympy_head  the SymPy function the op computes elementwise (sp.exp, sp.Max, sp.Gt), so
             symbolic differentiation turns f(a, b, ...) back into the op (chained when f
             has more arguments than the op has inputs)
    random   the kernel draws random numbers from its `seed` attribute (a dropout mask):
             Monte Carlo sampling (gc.mc_predict) runs it with a fresh seed per draw
    class_ids  an op that picks one row per class id: node -> (the input holding the ids, the
             number of classes, a `Rows` for ids that pick rows of a table), or None where the
             count is unknown; where data enters, the ids fed to an input there are checked
             to lie in 0 .. classes - 1 (feeds.py)
    writes_state  an op that, run in training mode, gives a state leaf its next value: node ->
             (the state's name, the input holding that value); gc.evaluate(updates=...)
             collects them
    min_batch  (rows, why): in training mode a graph holding the op needs a batch of at
             least `rows` rows; `why` ends the error that refuses a smaller one
    activation  gc.dense(activation=NAME) may end a layer with the op: True for an op of one
             input; for an op of more, the name and starting value of the per-unit param
             dense makes for each other input (prelu: (("alpha", 0.25),), PyTorch's start)
    reads_sizes  the attribute naming the axes whose sizes the op reads off its shape-only
             input: dead-node elimination may read such a size off any node that has it, on
             whatever axis (the attribute then names that node's axis)

    How lowering (graphc/codegen) writes the op as code: each op is a primitive (one call
    of an array-API function or of a runtime helper) or decomposes into other ops.

    array_fn   the array-API function that computes the op in one call, spelled alike in
               NumPy and jax.numpy ("add", "exp", "sum", "matmul", "where")
    array_args node -> (positional operands, keyword literals) of that call; an operand is
               an input node, a Python literal, or ShapeOf/SizeOf of an input. Default: the
               inputs, no keywords
    helper     for an op whose meaning differs per target (random draws): the name of a
               function each renderer's runtime provides, called as array_fn would be
    decompose  node -> Node: the op rebuilt from other ops with `F`, every input used as
               is (graphc/codegen/decompose.py applies it until only primitives remain); the
               result must equal the kernel's to the last bit
    """

    name: str
    arity: int
    infer: Callable[..., tuple[tuple, str]]
    kernel: Callable[..., Any] | None = None
    vjp: tuple | None = None
    jvp: tuple | str | None = None
    sympy: Callable[..., Any] | str | None = None
    label: str | Callable[[Node], str] | None = None
    board: Callable[..., tuple[str, ...]] | None = None
    samples: Callable[[np.random.Generator], list] | None = None
    nondiff: bool = False
    kink: Callable[..., Any] | None = None
    normalize: Callable[..., dict] | None = None
    leaf: bool = False
    complex_step: bool | Callable[..., Any] = False
    doc: str = field(default="", compare=False)
    # ---- facts the passes read ----
    elementwise: bool = False
    runtime_shape: str | Callable[..., Any] | None = None
    commutative: bool = False
    shape_only: tuple[int, ...] = ()
    linear: tuple[int, ...] = ()
    foldable: bool = True
    view: bool = False
    flops: int | Callable[[Node], int] = 1
    mode: Callable[[tuple[Node, ...], bool], Node | None] | None = None
    saturates: bool = False
    sympy_head: type | None = None
    random: bool = False
    class_ids: Callable[[Node], tuple[Node, int]] | None = None
    writes_state: Callable[[Node], tuple[str, Node]] | None = None
    min_batch: tuple[int, str] | None = None
    reads_sizes: str | None = None
    activation: bool | tuple[tuple[str, float], ...] = False

    def __post_init__(self):
        if self.elementwise and self.runtime_shape is None:
            object.__setattr__(self, "runtime_shape", BROADCAST)

    # ---- lowering (see above) ----
    array_fn: str | None = None
    array_args: Callable[[Node], tuple[tuple, dict]] | None = None
    helper: str | None = None
    decompose: Callable[[Node], Node] | None = None

    def call(self, node: Node) -> tuple[tuple, dict]:
        """The positional operands and keyword literals of the op's primitive call."""
        if self.array_args is not None:
            return self.array_args(node)
        return tuple(node.inputs), {}

    def display(self, node: Node) -> str:
        """The label shown for `node` in renderings and tables."""
        if callable(self.label):
            return self.label(node)
        return self.label or self.name


class Rows(int):
    """An `OpDef.class_ids` count of rows integer ids may pick from (an embedding table's, a
    take's axis): an id outside them is refused as a class id is, in words that speak of rows."""

    noun = "id"
    unit = "rows"


@dataclass(frozen=True)
class ShapeOf:
    """A call operand: the run-time shape of a node (what `broadcast_to` needs)."""

    node: Node


@dataclass(frozen=True)
class SizeOf:
    """A call operand: the run-time number of elements of a node along `axes` (an int)."""

    node: Node
    axes: tuple[int, ...]


REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add an op to the registry (each name once)."""
    if opdef.name in REGISTRY:
        raise GraphError(f"op {opdef.name!r} is registered twice")
    if opdef.vjp == MULTILINEAR:  # reverse mode needs each input's transpose, not the op
        raise GraphError(f"op {opdef.name!r}: vjp cannot be MULTILINEAR; give one rule per input")
    if not opdef.leaf and opdef.arity != 0 and not opdef.nondiff:
        for rules, kind in ((opdef.vjp, "vjp"), (opdef.jvp, "jvp")):
            if rules != MULTILINEAR and (rules is None or len(rules) != opdef.arity):
                raise GraphError(f"op {opdef.name!r} needs one {kind} rule per input")
    positions = (*opdef.shape_only, *opdef.linear)
    if any(not 0 <= k < opdef.arity for k in positions):
        raise GraphError(f"op {opdef.name!r}: an input position is out of range")
    if opdef.commutative and opdef.arity != 2:
        raise GraphError(f"op {opdef.name!r}: only a binary op can be commutative")
    if opdef.leaf:
        LEAF_OPS.add(opdef.name)
    REGISTRY[opdef.name] = opdef
    return opdef


def get(name: str) -> OpDef:
    """Look an op up by name."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownOpError(
            f"unknown op {name!r}; known ops: {', '.join(sorted(REGISTRY))}"
        ) from None


def run_node(node: Node, args: list) -> np.ndarray:
    """Apply one op's kernel, turning NumPy's failures into an error that names the op."""
    try:
        result = get(node.op).kernel(*args, **node.attrs)
    except (ValueError, TypeError, IndexError) as error:
        shapes = ", ".join(str(np.shape(a)) for a in args)
        raise EvaluationError(
            f"{node.site}: {node.op} failed on inputs of shapes {shapes}: {error}"
        ) from None
    return np.asarray(result, dtype=node.dtype)


def check_dtype(dtype: Any) -> str:
    """Return the canonical dtype name, or raise DtypeError."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in DTYPES:
        raise DtypeError(f"unsupported dtype {dtype!r}; graphc supports {', '.join(DTYPES)}")
    return name


def lift(value: Any, like: Node | None = None) -> Node:
    """Turn a Python number or NumPy array into a const node; nodes pass through.

    Python floats are weakly typed: they take the float dtype of the node they meet, so
    `x32 * 0.5` stays float32.
    """
    if isinstance(value, Node):
        return value
    from .leaves import const  # leaves registers its ops through this module

    if isinstance(value, (bool, int, float, np.number)) and not isinstance(value, np.ndarray):
        dtype = like.dtype if like is not None and like.dtype in FLOAT_DTYPES else "float64"
        if isinstance(value, (bool, np.bool_)):
            dtype = "bool"
        return const(np.asarray(value, dtype=dtype))
    if isinstance(value, (np.ndarray, list, tuple)):
        return const(value)
    raise GraphError(
        f"{user_site()}: cannot use {type(value).__name__} {value!r} in a graph; "
        "use a graphc node, a number or a NumPy array"
    )


def apply(
    name: str,
    *inputs: Any,
    _name: str | None = None,
    _scope: str | None = None,
    _site: str | None = None,
    **attrs: Any,
) -> Node:
    """Build a node of op `name` from inputs (numbers and arrays are lifted to consts)."""
    opdef = get(name)
    site = _site or user_site()
    if len(inputs) != opdef.arity:
        raise GraphError(f"{site}: {name} takes {opdef.arity} inputs, got {len(inputs)}")
    # a number takes the float dtype of a float operand: where(x32 > 0, 0.0, g32) stays float32
    like = next(
        (i for i in inputs if isinstance(i, Node) and i.dtype in FLOAT_DTYPES),
        next((i for i in inputs if isinstance(i, Node)), None),
    )
    nodes = tuple(lift(i, like) for i in inputs)
    try:
        if opdef.normalize is not None:
            attrs = opdef.normalize(attrs, *nodes)
        shape, dtype = opdef.infer(attrs, *nodes)
    except (ShapeError, DtypeError, ArgumentError) as error:
        raise type(error)(f"{site}: {name}: {error}") from None
    return Node(
        name,
        nodes,
        attrs,
        shape,
        dtype,
        name=_name,
        scope=_scope if _scope is not None else current_scope(),
        site=site,
    )


class _Builders:
    """`F.where(c, a, b)` is `apply("where", c, a, b)`: the raw op builders, for rules."""

    def __getattr__(self, name: str) -> Callable[..., Node]:
        return functools.partial(apply, name)


F = _Builders()


# ---- shape helpers shared by the op families -------------------------------------------


def broadcast_shapes(*shapes: tuple) -> tuple:
    """NumPy broadcasting of static shapes, where None (the batch dimension) meets None or 1.

    The batch dimension never meets a fixed size above 1: that would silently pin every
    batch to that size (x (None, 4) + P (4, 4) works for 4 rows only)."""
    if all(s == shapes[0] for s in shapes):
        return shapes[0]
    ndim = max(len(s) for s in shapes)
    result = []
    for axis in range(-ndim, 0):
        dims = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(dims) > 1 and None in dims:
            fixed = next(d for d in dims if d is not None)
            raise ShapeError(
                f"cannot broadcast shapes {' and '.join(map(str, shapes))}: the batch "
                f"dimension (None) would have to be {fixed}; give the batch-wide operand "
                f"a size-1 axis there, or reduce it first"
            )
        if len(dims) > 1:
            raise ShapeError(f"cannot broadcast shapes {' and '.join(map(str, shapes))}")
        result.append(dims.pop() if dims else 1)
    return tuple(result)


def result_dtype(*nodes: Node) -> str:
    """The dtype of an arithmetic result: NumPy promotion, with integers promoted to float."""
    return _promote(tuple(n.dtype for n in nodes))


@functools.lru_cache(maxsize=256)
def _promote(dtypes: tuple[str, ...]) -> str:
    dtype = np.result_type(*[np.dtype(d) for d in dtypes]).name
    return dtype if dtype in FLOAT_DTYPES else "float64"


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Canonical axes: a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise ShapeError(f"axis must be an int, a tuple of ints or None, got {axis!r}")
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)):
            raise ShapeError(f"axis must be an int or a tuple of ints, got {a!r}")
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ShapeError(f"axis {a!r} is out of range for a {ndim}-d input")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes: tuple[int, ...], keepdims: bool) -> tuple:
    """The shape left after reducing `axes`."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def float_like(attrs, x: Node) -> tuple[tuple, str]:
    """infer for unary elementwise float ops."""
    return x.shape, result_dtype(x)


def elementwise(attrs, *nodes: Node) -> tuple[tuple, str]:
    """infer for broadcasting elementwise float ops."""
    return broadcast_shapes(*(n.shape for n in nodes)), result_dtype(*nodes)


def attr_label(node: Node) -> str:
    """Default label: the op name with its attributes (the dtype shows elsewhere)."""
    args = ", ".join(f"{k}={v}" for k, v in node.attrs.items() if k != "dtype")
    return f"{node.op}({args})" if args else node.op


def scalar_sympy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """sympy hook for an elementwise op from a scalar SymPy function (broadcast over arrays)."""
    vectorized = np.vectorize(fn, otypes=[object])
    return lambda *args, **attrs: vectorized(*args)


def sample_inputs(*shapes: tuple, positive: bool = False, **attrs: Any):
    """samples hook: random float64 inputs of the given shapes (positive ones if asked)."""

    def samples(rng: np.random.Generator) -> list:
        arrays = tuple(rng.uniform(0.5, 2.0, s) if positive else rng.normal(size=s) for s in shapes)
        return [(arrays, dict(attrs))]

    return samples


# ---- cost helpers (OpDef.flops) -----------------------------------------------------------


def size(shape: tuple) -> int:
    """The number of elements of a fully known shape."""
    return math.prod(int(d) for d in shape)  # Python ints: a 1e30 dimension never overflows


def per_input_element(flops: int) -> Callable[[Node], int]:
    """flops hook for a reduction: `flops` per element of its largest input."""
    return lambda node: flops * max(size(x.shape) for x in node.inputs)
