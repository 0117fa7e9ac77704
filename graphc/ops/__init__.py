"""The op library. Importing this package registers every op; see `registry.OpDef`."""

from . import (  # noqa: F401
    activations,
    attention,
    binary,
    elementwise,
    fused,
    gather,
    layers,
    leaves,
    losses,
    norm,
    reductions,
    sequence,
    shape,
    stats,
)
from .registry import REGISTRY, F, OpDef, apply, get, register  # noqa: F401
