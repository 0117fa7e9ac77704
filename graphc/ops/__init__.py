"""The op library. Importing this package registers every op (see `registry.OpDef`) and
gives `Node` its operators (`operators.py`)."""

from . import (
    binary,
    conv,
    elementwise,
    fused,
    layers,
    leaves,
    losses,
    operators,
    pooling,
    reductions,
    shape,
)
from .registry import REGISTRY, F, OpDef, apply, get, register
