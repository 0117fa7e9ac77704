"""Lowering graphs to NumPy source: gc.lower (one function) and gc.export (a training file)."""

from .emit import Lowered, lower
from .export import build_module, export
from .hyper import GridResult, grid_search

__all__ = ["GridResult", "Lowered", "build_module", "export", "grid_search", "lower"]
