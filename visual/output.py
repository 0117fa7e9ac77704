"""Writing pictures: SVG, PNG, PDF or DOT chosen by the file's suffix, and a clear error (not
a crash) when the Graphviz `dot` program is missing."""

from __future__ import annotations

import os
import re
import subprocess

import graphviz

import graphc as gc
from graphc import GraphError
from graphc.files import write_bytes, write_file
from graphc.ir import as_list
from graphc.limits import SizeError, check_drawn

INSTALL_HINT = (
    "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install graphviz`, or see "
    "https://graphviz.org/download/; `make setup` in the graphc repository does it"
)
GRAPH_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
FIGURE_FORMATS = (".png", ".svg", ".pdf")


class GraphvizNotFoundError(GraphError):
    """The Graphviz `dot` program is not installed (the DOT source is still available)."""


class Picture(graphviz.Digraph):
    """A `graphviz.Digraph` that shows as SVG in Jupyter and, without the `dot` program,
    shows its DOT source and how to install Graphviz instead of raising."""

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        try:  # a notebook shows why there is no picture, not a traceback
            check_drawn(drawn_nodes(self), "the picture")
        except SizeError as error:
            return {"text/plain": str(error)}
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {
                "text/plain": f"(Graphviz is missing, so here is the DOT source; to see the "
                f"picture, {INSTALL_HINT})\n{self.source}"
            }


class SideBySide:
    """Pictures in one row in Jupyter, each shrunk to its share of the cell's width."""

    def __init__(self, *pictures: graphviz.Digraph):
        self.pictures = pictures

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """HTML for Jupyter (each picture shrinks to its share of the width), and one SVG
        of the pictures in a row for viewers that show no HTML (a notebook on the web)."""
        svgs = [pipe(p, "svg").decode() for p in self.pictures]
        cells = "".join(f'<div style="flex: 1; min-width: 0">{svg}</div>' for svg in svgs)
        html = (
            "<style>.graphc-row svg { max-width: 100%; height: auto; }</style>"
            f'<div class="graphc-row" style="display: flex; gap: 1em">{cells}</div>'
        )
        return {"text/html": html, "image/svg+xml": row_svg(svgs)}


def row_svg(svgs: list[str], gap: float = 12.0) -> str:
    """SVG documents from `dot` side by side in one SVG (each nested at its own offset)."""
    parts, x, height = [], 0.0, 0.0
    for svg in svgs:
        body = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg, flags=re.S).strip()
        size = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"[^>]*\bheight="([\d.]+)pt"', body)
        w, h = (float(size[1]), float(size[2])) if size else (400.0, 300.0)
        parts.append(re.sub(r"<svg\b", f'<svg x="{x:.2f}" y="0"', body, count=1))
        x, height = x + w + gap, max(height, h)
    width = max(x - gap, 1.0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width:.2f}pt" height="{height:.2f}pt" viewBox="0 0 {width:.2f} {height:.2f}">'
        + "".join(parts)
        + "</svg>"
    )


def side_by_side(*pictures: graphviz.Digraph) -> SideBySide:
    """Show pictures next to each other in a notebook (e.g. the two modes of a layer)."""
    for p in pictures:
        if not isinstance(p, graphviz.Digraph):
            raise GraphError(f"side_by_side takes renderings, got {type(p).__name__}")
    return SideBySide(*pictures)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def dot_source(graph: graphviz.Digraph) -> str:
    """The graph's DOT source with control characters (from users' names) shown as '?':
    Graphviz reads a form feed or a NUL inside a label as a syntax error."""
    return _CONTROL.sub("?", graph.source)


# a node statement of DOT source: `\tn12 [label=...]` (not `node [`, `edge [`, `a -> b [`)
_NODE_STATEMENT = re.compile(r'\t+(?!(?:node|edge|graph) \[)(?:"[^"]*"|\w+) \[')


def drawn_nodes(graph: graphviz.Digraph) -> int:
    """The nodes in a picture's DOT source (its clusters included)."""
    return sum(1 for statement in graph.body if _NODE_STATEMENT.match(statement))


def check_drawable(outputs, what: str, factor: int = 1, advice: str = "") -> None:
    """Refuse, before building it, a picture of about `factor` times the nodes of the graph
    of `outputs` when that is above the limit (building a 50,000-node picture alone takes
    seconds to minutes, laying it out far longer)."""
    check_drawn(len(gc.topological_order(as_list(outputs))) * factor, what, advice)


def pipe(graph: graphviz.Digraph, fmt: str) -> bytes:
    """Run `dot` on the graph and return the output bytes, with graphc's errors; a picture
    above the node limit is refused before `dot` starts."""
    check_drawn(drawn_nodes(graph), "the picture")
    try:
        return graphviz.pipe(graph.engine, fmt, dot_source(graph).encode())
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(
            f"cannot make {fmt.upper()}: the Graphviz `dot` program was "
            f"not found on PATH; {INSTALL_HINT}. The DOT source is "
            "still available as `graph.source` (save to a .dot file "
            "works without Graphviz)."
        ) from None
    except subprocess.CalledProcessError as error:
        stderr = (
            error.stderr.decode(errors="replace")
            if isinstance(error.stderr, bytes)
            else str(error.stderr)
        )
        tail = "\n".join(stderr.strip().splitlines()[-6:])  # dot can print pages of ranks
        raise GraphError(f"Graphviz failed to lay out the graph as {fmt}: {tail}") from None


def save(picture, path: str | os.PathLike) -> str:
    """Write a rendering (.svg, .png, .pdf, .dot/.gv) or a matplotlib figure (.png, .svg,
    .pdf); the format comes from the suffix. Returns the path written."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    directory = os.path.dirname(path)
    if isinstance(picture, graphviz.Digraph):
        if suffix not in GRAPH_FORMATS:
            raise GraphError(
                f"cannot save a graph as {path!r}: use one of the suffixes "
                f"{', '.join(GRAPH_FORMATS)}"
            )
        fmt = GRAPH_FORMATS[suffix]
        data = dot_source(picture).encode() if fmt == "dot" else pipe(picture, fmt)
    elif hasattr(picture, "savefig"):
        if suffix not in FIGURE_FORMATS:
            raise GraphError(
                f"cannot save a figure as {path!r}: use one of the suffixes "
                f"{', '.join(FIGURE_FORMATS)}"
            )
        if directory:
            os.makedirs(directory, exist_ok=True)
        options = {"format": suffix[1:], "dpi": 120 if suffix == ".png" else None}
        return write_file(path, lambda f: picture.savefig(f, bbox_inches="tight", **options), True)
    else:
        raise GraphError(
            f"visual.save takes a rendering (graphviz.Digraph) or a matplotlib "
            f"figure, got {type(picture).__name__}"
        )
    if directory:
        os.makedirs(directory, exist_ok=True)
    return write_bytes(path, data)
