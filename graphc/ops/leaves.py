"""Leaves: inputs (fed per batch), params (trained), consts and state (running statistics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checks import as_array, real_number
from ..errors import DtypeError, GraphError, ShapeError
from ..initializers import NAMES as INITIALIZERS
from ..initializers import initial_value as draw_initial
from ..ir import Node, current_scope, user_site
from .registry import FLOAT_DTYPES, OpDef, check_dtype, register


def _no_infer(attrs, *inputs):
    raise GraphError("leaves are made by gc.input, gc.param, gc.const and gc.state")


def _leaf_label(node: Node) -> str:
    if node.op == "const":
        value = node.attrs["value"]
        if value.size == 1:
            return f"{value.item():.4g}"
        if value.size and np.all(value == value.flat[0]):  # a folded broadcast of one number
            return f"{value.flat[0]:.4g} (every entry)"
        return f"const{list(value.shape)}"
    return node.name


for _op in ("input", "param", "const", "state"):
    register(
        OpDef(
            _op,
            0,
            _no_infer,
            leaf=True,
            label=_leaf_label,
            doc=f"A {_op} leaf; its value comes from outside the graph.",
        )
    )


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise GraphError(f"{user_site()}: {what} needs a non-empty string name, got {name!r}")
    return name


def _check_shape(shape: Any, what: str, name: str, batch: bool) -> tuple:
    if isinstance(shape, (int, np.integer)) or shape is None:
        shape = () if shape is None else (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ShapeError(
            f"{user_site()}: {what} {name!r}: shape must be a tuple, got {shape!r}"
        ) from None
    for d in shape:
        ok = (d is None and batch) or (
            isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d > 0
        )
        if not ok:
            allowed = "positive ints or None (the batch dimension)" if batch else "positive ints"
            raise ShapeError(f"{user_site()}: {what} {name!r}: shape {shape} must hold {allowed}")
    return tuple(None if d is None else int(d) for d in shape)


def _check_dtype(dtype: Any, what: str, name: str) -> str:
    try:
        return check_dtype(dtype)
    except DtypeError as error:
        raise DtypeError(f"{user_site()}: {what} {name!r}: {error}") from None


def input(name: str, shape: Any, dtype: str = "float64") -> Node:
    """A value fed at evaluation time; a None in `shape` is the batch dimension."""
    name = _check_name(name, "gc.input")
    shape = _check_shape(shape, "input", name, batch=True)
    dtype = _check_dtype(dtype, "input", name)
    return Node("input", (), {}, shape, dtype, name=name, scope=current_scope())


def param(name: str, shape: Any, init: Any = None, dtype: str = "float64") -> Node:
    """A trainable parameter. `init` is a number, an array or an initializer name.

    The default is "xavier_uniform" for matrices and "zeros" for vectors and scalars.
    Initializers: zeros, ones, normal, uniform, he_normal, he_uniform, xavier_normal,
    xavier_uniform.
    """
    name = _check_name(name, "gc.param")
    shape = _check_shape(shape, "param", name, batch=False)
    dtype = _check_dtype(dtype, "param", name)
    if dtype not in FLOAT_DTYPES:
        raise GraphError(f"{user_site()}: param {name!r} must be float32 or float64, not {dtype}")
    if init is None:
        init = "xavier_uniform" if len(shape) >= 2 else "zeros"
    if isinstance(init, str):
        if init not in INITIALIZERS:
            raise GraphError(
                f"{user_site()}: param {name!r}: unknown initializer {init!r}; "
                f"choose one of {', '.join(INITIALIZERS)}"
            )
    elif isinstance(init, (int, float)):
        init = real_number(init, f"{user_site()}: param {name!r}: init")
    else:
        try:
            array = as_array(init, dtype, "init")
        except GraphError as error:
            raise GraphError(
                f"{user_site()}: param {name!r}: init must be a number, an array of numbers or "
                f"an initializer name; {type(init).__name__} {_short(init)} gives: {error}"
            ) from None
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise GraphError(f"{user_site()}: param {name!r}: init holds NaN or infinity")
        if array.shape != shape:
            raise ShapeError(
                f"{user_site()}: param {name!r}: init has shape {array.shape}, expected {shape}"
            )
        init = array
    return Node("param", (), {"init": init}, shape, dtype, name=name, scope=current_scope())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def state(name: str, shape: Any, init: float = 0.0, dtype: str = "float64") -> Node:
    """Non-trainable state, such as batch norm's running statistics, starting at `init`."""
    name = _check_name(name, "gc.state")
    shape = _check_shape(shape, "state", name, batch=False)
    return Node(
        "state",
        (),
        {"init": real_number(init, f"{user_site()}: state {name!r}: init")},
        shape,
        _check_dtype(dtype, "state", name),
        name=name,
        scope=current_scope(),
    )


def const(value: Any, dtype: str | None = None) -> Node:
    """A constant array (Python numbers and NumPy arrays in expressions become consts)."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise GraphError(f"{user_site()}: gc.const cannot hold {value!r}: {error}") from None
    return Node(
        "const", (), {"value": array}, array.shape, check_dtype(array.dtype), scope=current_scope()
    )


def initial_value(node: Node, seed: int = 0) -> np.ndarray:
    """The initial array of a param or state leaf; seeded per name, so adding a param
    does not change the others."""
    return draw_initial(node.name, node.attrs["init"], node.shape, node.dtype, seed)
