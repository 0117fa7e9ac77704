"""The op library. Importing this package registers every op (see `registry.OpDef`) and
gives `Node` its operators (`operators.py`)."""

from . import binary, elementwise, fused, layers, leaves, losses, operators, reductions, shape
from .registry import REGISTRY, F, OpDef, apply, get, register
