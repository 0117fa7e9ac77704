"""Lowering graphs to NumPy source: gc.lower (one function) and gc.export (a training file)."""

from .emit import Lowered, lower
from .export import build_module, export

__all__ = ["Lowered", "build_module", "export", "lower"]
