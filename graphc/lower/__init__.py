"""Lowering graphs to NumPy source: gc.lower (one function) and gc.export (a training file)."""

from .emit import Lowered, lower

__all__ = ["Lowered", "lower"]
