"""The op library. Importing this package registers every op (see `registry.OpDef`) and
gives `Node` its operators (`operators.py`)."""

from . import (
    activations,
    attention,
    binary,
    cast,
    conv,
    conv_vjp,
    elementwise,
    fused,
    gather,
    layers,
    leaves,
    losses,
    norm,
    operators,
    pooling,
    reductions,
    sequence,
    shape,
    stats,
)
from .registry import REGISTRY, F, OpDef, apply, get, register
