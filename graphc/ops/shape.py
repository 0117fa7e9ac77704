"""Linear algebra and shape ops: matmul, transpose, reshape, expand_dims, the broadcast
pair (broadcast_like / sum_to) that derivatives use, last-axis indexing and one_hot."""

from __future__ import annotations

import numpy as np

from ..errors import DtypeError, ShapeError
from ..ir import Node
from .registry import (
    BROADCAST,
    KERNEL,
    MULTILINEAR,
    F,
    OpDef,
    ShapeOf,
    apply,
    attr_label,
    broadcast_shapes,
    check_dtype,
    lift,
    normalize_axis,
    per_input_element,
    register,
    result_dtype,
    sample_inputs,
    size,
)


def _dims_agree(a, b) -> bool:
    """Equal sizes, or both the batch dimension (None never stands for a fixed size)."""
    return a == b


def _matmul_infer(attrs, a: Node, b: Node):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul takes inputs of 1 or more dimensions, got {a.shape} and {b.shape}"
        )
    inner = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if not _dims_agree(a.shape[-1], inner):
        raise ShapeError(
            f"inner dimensions differ: {a.shape} @ {b.shape} ({a.shape[-1]} != {inner})"
        )
    try:  # the leading (batch) dimensions broadcast as in NumPy
        lead = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ShapeError as error:
        raise ShapeError(f"the leading dimensions of {a.shape} @ {b.shape}: {error}") from None
    return lead + a.shape[-2:-1] + (b.shape[-1:] if b.ndim > 1 else ()), result_dtype(a, b)


def _outer(u: Node, v: Node) -> Node:
    return F.expand_dims(u, axis=(1,)) * F.expand_dims(v, axis=(0,))


def _swapped(x: Node) -> Node:
    """x with its last two axes swapped (the matrix transpose of each batch entry)."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return F.transpose(x, axes=axes)


def _batched(g: Node, n: Node) -> tuple[Node, Node, Node]:
    """(A, B, G): the operands and the cotangent with a 1-d operand's axis put back (a as
    one row, b as one column), so that G = A @ B as stacks of matrices."""
    a, b = n.inputs
    if b.ndim == 1:
        b, g = F.expand_dims(b, axis=(1,)), F.expand_dims(g, axis=(g.ndim,))
    if a.ndim == 1:
        a, g = F.expand_dims(a, axis=(0,)), F.expand_dims(g, axis=(g.ndim - 1,))
    return a, b, g


def _summed_to(x: Node, shape: tuple) -> Node:
    """x summed over the batch dimensions its operand was broadcast along."""
    return x if x.shape == shape else F.sum_to(x, shape=shape)


def _matmul_vjp_a(g: Node, n: Node) -> Node:
    a, b = n.inputs
    if max(a.ndim, b.ndim) > 2:  # batched: G @ Bᵀ, summed over a's broadcast dimensions
        _, B, G = _batched(g, n)
        return _summed_to(F.matmul(G, _swapped(B)), a.shape)  # a 1-d: its (1, k) sums exactly
    if b.ndim == 2:
        return F.matmul(g, F.transpose(b, axes=(1, 0))) if a.ndim == 2 else F.matmul(b, g)
    return _outer(g, b) if a.ndim == 2 else g * b


def _matmul_vjp_b(g: Node, n: Node) -> Node:
    a, b = n.inputs
    if max(a.ndim, b.ndim) > 2:  # batched: Aᵀ @ G, summed over b's broadcast dimensions
        A, _, G = _batched(g, n)
        gb = F.matmul(_swapped(A), G)
        return _summed_to(drop_axis(gb, gb.ndim - 1) if b.ndim == 1 else gb, b.shape)
    if a.ndim == 2:
        return F.matmul(F.transpose(a, axes=(1, 0)), g) if b.ndim == 2 else F.matmul(g, a)
    return _outer(a, g) if b.ndim == 2 else g * a


def _matmul_runtime(n: Node, a: list, b: list) -> list:
    """Run-time sizes: each batch dimension from an operand that is not 1 there."""
    x, y = n.inputs
    lead = n.ndim - (x.ndim > 1) - (y.ndim > 1)
    dims = []
    for k in range(lead, 0, -1):  # the k-th batch dimension from the right
        from_a = k <= x.ndim - 2 and x.shape[-2 - k] != 1
        dims.append(a[-2 - k] if from_a else b[-2 - k])
    return dims + list(a[-2:-1]) * (x.ndim > 1) + list(b[-1:]) * (y.ndim > 1)


def _matmul_samples(rng) -> list:
    shapes = [
        ((3, 4), (4, 2)),
        ((4,), (4, 2)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4, 5)),  # a stack of matrices times one matrix
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (3, 4, 2)),  # both broadcast
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
    ]
    return [((rng.normal(size=p), rng.normal(size=q)), {}) for p, q in shapes]


register(
    OpDef(
        "matmul",
        2,
        _matmul_infer,
        kernel=np.matmul,
        array_fn="matmul",
        sympy=KERNEL,
        board=lambda a, b: (f"upstream · {b}ᵀ", f"{a}ᵀ · upstream"),
        vjp=(_matmul_vjp_a, _matmul_vjp_b),
        jvp=MULTILINEAR,
        label="@",
        runtime_shape=_matmul_runtime,
        flops=lambda n: 2 * size(n.shape) * n.inputs[0].shape[-1],
        complex_step=True,
        samples=_matmul_samples,
        doc="the matrix product, NumPy's matmul: leading dimensions are a batch of matrices "
        "and broadcast; a 1-d operand is a row (left) or a column (right) and leaves no axis",
    )
)


def _transpose_attrs(attrs, x: Node) -> dict:
    axes = attrs.get("axes")
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(int(a) for a in axes)
    if all(-x.ndim <= a < x.ndim for a in axes):
        axes = tuple(a % x.ndim for a in axes)  # negative axes count from the end, as in NumPy
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"axes {axes} are not a permutation of the {x.ndim} axes of {x.shape}")
    return {"axes": axes}


register(
    OpDef(
        "transpose",
        1,
        lambda attrs, x: (tuple(x.shape[a] for a in attrs["axes"]), x.dtype),
        kernel=np.transpose,
        normalize=_transpose_attrs,
        array_fn="transpose",
        view=True,
        array_args=lambda n: ((n.inputs[0], n.attrs["axes"]), {}),
        sympy=KERNEL,
        jvp=MULTILINEAR,
        label=lambda n: "T" if n.ndim == 2 else attr_label(n),
        board=lambda x: ("upstream transposed back",),
        vjp=(lambda g, n: F.transpose(g, axes=tuple(np.argsort(n.attrs["axes"]).tolist())),),
        samples=sample_inputs((3, 4, 2), axes=(2, 0, 1)),
        runtime_shape=lambda n, x: [x[a] for a in n.attrs["axes"]],
        flops=0,
        complex_step=True,
    )
)


def _reshape_infer(attrs, x: Node):
    shape = attrs["shape"]
    if sum(d == -1 for d in shape) > 1 or any(d < -1 or d == 0 for d in shape):
        raise ShapeError(f"bad target shape {shape}: positive sizes and at most one -1")
    if None in x.shape:
        if -1 not in shape:
            raise ShapeError(
                f"reshaping {x.shape}, which has a batch dimension, needs a -1 "
                f"in the target shape, got {shape}"
            )
        return tuple(None if d == -1 else d for d in shape), x.dtype
    size = int(np.prod(x.shape))
    known = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape:
        if size % known:
            raise ShapeError(f"cannot reshape {x.shape} into {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if int(np.prod(shape)) != size:
        raise ShapeError(f"cannot reshape {x.shape} ({size} elements) into {shape}")
    return shape, x.dtype


register(
    OpDef(
        "reshape",
        1,
        _reshape_infer,
        kernel=np.reshape,
        array_fn="reshape",
        view=True,
        array_args=lambda n: ((n.inputs[0], n.attrs["shape"]), {}),
        normalize=lambda attrs, x: {"shape": tuple(int(d) for d in attrs["shape"])},
        sympy=KERNEL,
        jvp=MULTILINEAR,
        label=attr_label,
        board=lambda x: ("upstream reshaped back",),
        vjp=(
            lambda g, n: F.reshape(
                g, shape=tuple(-1 if d is None else d for d in n.inputs[0].shape)
            ),
        ),
        samples=sample_inputs((3, 4), shape=(2, 6)),
        # a reshape to the same static shape keeps the run-time sizes
        runtime_shape=lambda n, x: x if n.inputs[0].shape == n.shape else None,
        flops=0,
        complex_step=True,
    )
)


def _expand_attrs(attrs, x: Node) -> dict:
    count = len(tuple(np.atleast_1d(attrs["axis"])))
    return {"axis": normalize_axis(attrs["axis"], x.ndim + count)}


def _expanded(shape: tuple, axes: tuple[int, ...]) -> tuple:
    out = list(shape)
    for a in axes:
        out.insert(a, 1)
    return tuple(out)


def _expand_infer(attrs, x: Node):
    return _expanded(x.shape, attrs["axis"]), x.dtype


register(
    OpDef(
        "expand_dims",
        1,
        _expand_infer,
        kernel=np.expand_dims,
        normalize=_expand_attrs,
        array_fn="expand_dims",
        view=True,
        array_args=lambda n: ((n.inputs[0], n.attrs["axis"]), {}),
        sympy=KERNEL,
        jvp=MULTILINEAR,
        board=lambda x: ("upstream with the axis dropped",),
        vjp=(lambda g, n: F.sum(g, axis=n.attrs["axis"]),),
        label=attr_label,
        samples=sample_inputs((3, 4), axis=(1,)),
        runtime_shape=lambda n, x: _expanded(x, n.attrs["axis"]),
        flops=0,
        complex_step=True,
    )
)


def _broadcast_like_infer(attrs, x: Node, ref: Node):
    shape = broadcast_shapes(x.shape, ref.shape)
    if len(shape) != ref.ndim or any(not _dims_agree(s, r) for s, r in zip(shape, ref.shape)):
        raise ShapeError(f"cannot broadcast {x.shape} to the shape {ref.shape} of its reference")
    return ref.shape, x.dtype


def broadcast_like_kernel(x, ref):
    return np.broadcast_to(x, np.shape(ref))


register(
    OpDef(
        "broadcast_like",
        2,
        _broadcast_like_infer,
        kernel=broadcast_like_kernel,
        array_fn="broadcast_to",
        view=True,
        array_args=lambda n: ((n.inputs[0], ShapeOf(n.inputs[1])), {}),
        sympy=KERNEL,
        label="broadcast",
        board=lambda x, ref: ("1: upstream summed over the copies", ""),
        vjp=(lambda g, n: F.sum_to(g, shape=n.inputs[0].shape), None),
        jvp=(lambda t, n: F.broadcast_like(t, n.inputs[1]), None),
        samples=sample_inputs((1, 4), (3, 4)),
        runtime_shape=lambda n, x, ref: ref,
        shape_only=(1,),
        flops=0,
        complex_step=True,
        doc="x broadcast to the run-time shape of ref (ref gives only its shape)",
    )
)


def sum_to_axes(full, shape):
    """(the axes of `full` that summing down to `shape` reduces, how many leading axes it
    drops): the leading axes, and the size-1 axes of `shape` that `full` broadcast."""
    lead = len(full) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and full[lead + i] != 1
    )
    return axes, lead


def sum_to_kernel(x, shape):
    """Sum x down to `shape` (None keeps an axis): undoes NumPy broadcasting."""
    axes, lead = sum_to_axes(x.shape, shape)
    if not axes:
        return x
    total = np.sum(x, axis=axes, keepdims=True)
    return total.reshape(total.shape[lead:])


def _sum_to_parts(n: Node) -> Node:
    """sum_to_kernel's steps as ops, for lowering. An axis of unknown size where the target
    has 1 is summed too: at run time it is either summed or of size 1 (which sums exactly)."""
    x, shape = n.inputs[0], n.attrs["shape"]
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1
    )
    if not axes:
        return x
    if axes == tuple(range(lead)):  # leading axes only (a batch): no reshape needed
        return F.sum(x, axis=axes)
    return drop_leading(F.sum(x, axis=axes, keepdims=True), lead)


def drop_leading(x: Node, lead: int) -> Node:
    """x without its first `lead` axes, which have size 1 (for lowering)."""
    return _drop(x, tuple(range(lead)))


def drop_axis(x: Node, axis: int) -> Node:
    """x without the size-1 `axis` (np.squeeze, for lowering)."""
    return _drop(x, (axis,))


def _drop(x: Node, axes: tuple[int, ...]) -> Node:
    if not axes:
        return x
    kept = [d for i, d in enumerate(x.shape) if i not in axes]
    if kept.count(None) > 1:  # reshape takes one unknown size: sum the size-1 axes away
        return F.sum(x, axis=axes)
    return F.reshape(x, shape=tuple(-1 if d is None else d for d in kept))


def one_hot_columns(node: Node) -> Node:
    """The class ids 0..depth-1 along the last axis of `node` (one_hot compares with them)."""
    return lift(np.arange(node.shape[-1]))


def _sum_to_infer(attrs, x: Node):
    shape = attrs["shape"]
    full = broadcast_shapes(x.shape, shape) if x.ndim >= len(shape) else None
    # the target may only fix x's batch dimensions (None), never grow a known size
    if full is None or any(d is not None and f != d for f, d in zip(full, x.shape)):
        raise ShapeError(f"cannot sum {x.shape} down to {shape}")
    return shape, x.dtype


register(
    OpDef(
        "sum_to",
        1,
        _sum_to_infer,
        kernel=sum_to_kernel,
        decompose=_sum_to_parts,
        normalize=lambda attrs, x: {"shape": tuple(attrs["shape"])},
        sympy=KERNEL,
        jvp=MULTILINEAR,
        label=lambda n: f"sum_to{list(n.shape)}",
        board=lambda x: ("1: upstream copied back",),
        vjp=(lambda g, n: F.broadcast_like(g, n.inputs[0]),),
        samples=sample_inputs((3, 4), shape=(4,)),
        runtime_shape=BROADCAST,  # a kept None axis keeps the input's size
        flops=per_input_element(1),
        complex_step=True,
    )
)


def _index_infer(attrs, x: Node):
    if x.ndim == 0 or x.shape[-1] is None or not 0 <= attrs["index"] < x.shape[-1]:
        raise ShapeError(f"index {attrs['index']} is out of range for the last axis of {x.shape}")
    return x.shape[:-1], x.dtype


def _index_normalize(attrs, x: Node) -> dict:
    """A non-negative index, checked against the axis before wrapping (x[..., 10] on a
    4-wide axis is an error, as in NumPy, not column 2)."""
    index = attrs["index"]
    if not isinstance(index, (int, np.integer)) or isinstance(index, (bool, np.bool_)):
        raise ShapeError(f"index must be an int, got {index!r}")
    size = x.shape[-1] if x.ndim else None
    if size is None or not -size <= index < size:
        raise ShapeError(f"index {index} is out of range for the last axis of {x.shape}")
    return {"index": int(index) % size}


def index_last_kernel(x, index):
    return x[..., index]


def _index_vjp(g: Node, n: Node) -> Node:
    x = n.inputs[0]
    column = np.eye(x.shape[-1], dtype=x.dtype)[n.attrs["index"]]
    return F.expand_dims(g, axis=(x.ndim - 1,)) * column


register(
    OpDef(
        "index_last",
        1,
        _index_infer,
        kernel=index_last_kernel,
        array_fn="take",
        array_args=lambda n: ((n.inputs[0], n.attrs["index"]), {"axis": -1}),
        normalize=_index_normalize,
        sympy=KERNEL,
        board=lambda x: ("1 at the picked entry, 0 elsewhere",),
        vjp=(_index_vjp,),
        jvp=MULTILINEAR,
        label=lambda n: f"[..., {n.attrs['index']}]",
        samples=sample_inputs((3, 4), index=2),
        runtime_shape=lambda n, x: x[:-1],
        view=True,
        flops=0,
        complex_step=True,
    )
)


def _one_hot_infer(attrs, labels: Node):
    if not labels.dtype.startswith("int"):
        raise DtypeError(f"one_hot needs integer labels, got {labels.dtype}")
    return labels.shape + (attrs["depth"],), attrs["dtype"]


def _one_hot_normalize(attrs, labels: Node) -> dict:
    depth = attrs["depth"]
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, (bool, np.bool_)) or depth < 1:
        raise ShapeError(
            f"one_hot depth must be a positive int (the number of classes), got {depth!r}"
        )
    return {"depth": int(depth), "dtype": check_dtype(attrs.get("dtype", "float64"))}


def one_hot_kernel(labels, depth, dtype):
    return (np.asarray(labels)[..., None] == np.arange(depth)).astype(dtype)


register(
    OpDef(
        "one_hot",
        1,
        _one_hot_infer,
        kernel=one_hot_kernel,
        # the comparison's bools times 1 of the dtype: astype in one cheap multiply
        decompose=lambda n: F.mul(
            F.equal(F.expand_dims(n.inputs[0], axis=(n.ndim - 1,)), one_hot_columns(n)),
            np.ones((), n.dtype),
        ),
        nondiff=True,
        sympy=KERNEL,
        label=attr_label,
        normalize=_one_hot_normalize,
        samples=lambda rng: [((rng.integers(0, 4, size=(5,)),), {"depth": 4, "dtype": "float64"})],
        runtime_shape=lambda n, labels: (*labels, n.attrs["depth"]),
        class_ids=lambda n: (n.inputs[0], n.attrs["depth"]),
    )
)


def matmul(a, b) -> Node:
    """Matrix product (as a @ b, np.matmul): leading dimensions broadcast as a batch."""
    return apply("matmul", a, b)


def transpose(x, axes=None) -> Node:
    """Permute axes (reverse them when `axes` is None)."""
    return apply("transpose", x, axes=axes)


def reshape(x, shape) -> Node:
    """Reshape; use -1 for the batch dimension."""
    return apply("reshape", x, shape=tuple(shape))


def expand_dims(x, axis) -> Node:
    """Insert size-1 axes at the given positions."""
    return apply("expand_dims", x, axis=axis)


def one_hot(labels, depth: int, dtype: str = "float64") -> Node:
    """Rows of the identity picked by integer labels."""
    return apply("one_hot", labels, depth=depth, dtype=dtype)
