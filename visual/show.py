"""Jupyter shows graphc's nodes (and gc.grad's lists of them) as the picture of their graph.
graphc never imports visual, so `import visual` installs the display on the IR's classes."""

from __future__ import annotations

from graphc.ir import Node, Nodes

from .output import pipe
from .rendering import render


def _bundle(outputs, text: str) -> dict:
    """The SVG of the graph of `outputs` beside the text repr; without the dot program (or
    any other failure to draw), only the one-line text."""
    try:
        svg = pipe(render(outputs), "svg").decode()
    except Exception:  # noqa: BLE001 - any failure to draw falls back to the text repr
        return {"text/plain": text}
    return {"text/plain": text, "image/svg+xml": svg}


def _node_bundle(self, include=None, exclude=None, **kwargs) -> dict:
    """A node shows as the picture of its graph."""
    return _bundle(self, repr(self))


def _nodes_bundle(self, include=None, exclude=None, **kwargs) -> dict:
    """The graph of every node in the list, and the list's repr."""
    if not self or not all(isinstance(n, Node) for n in self):
        return {"text/plain": repr(self)}
    return _bundle(list(self), repr(self))


def install() -> None:
    """Give Node and Nodes their Jupyter display."""
    Node._repr_mimebundle_ = _node_bundle
    Nodes._repr_mimebundle_ = _nodes_bundle
