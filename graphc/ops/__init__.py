"""The op library. Importing this package registers every op; see `registry.OpDef`."""

from . import binary, cast, elementwise, fused, layers, leaves, losses, reductions, shape  # noqa: F401
from .registry import REGISTRY, F, OpDef, apply, get, register  # noqa: F401
