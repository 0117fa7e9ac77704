"""Text of a rendering: shapes, compact summaries of arrays, and the HTML-like node labels."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from graphc import REGISTRY, Node


def format_shape(shape: Sequence[int | None]) -> str:
    """A shape for a label: '64×10', 'N×10' (N is the batch dimension), 'scalar'."""
    if not shape:
        return "scalar"
    return "×".join("N" if d is None else str(d) for d in shape)


def shape_dtype(node: Node) -> str:
    """The shape line of a node: its shape, plus the dtype when it is not float64."""
    text = format_shape(node.shape)
    return text if node.dtype == "float64" else f"{text} {node.dtype}"


def number(x: float) -> str:
    """A number in at most four significant digits (no '-0')."""
    return "0" if x == 0 else f"{x:.4g}"


INTEGERS_SHOWN = 8  # integer arrays (labels) show their first entries, never a mean
NOISE_ULPS = 64  # rounding of a few dozen operations; anything smaller is noise


def noise_floor(array, scale: float | None = None) -> float:
    """The size below which a float number is rounding noise: a few dozen units in the last
    place of the dtype at `scale` (default: the array's own largest magnitude)."""
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.floating) or a.size == 0:
        return 0.0
    finite = np.abs(a[np.isfinite(a)])
    size = float(finite.max()) if scale is None and finite.size else float(scale or 0.0)
    return NOISE_ULPS * float(np.finfo(a.dtype).eps) * size


def denoise(array, floor: float):
    """The array with numbers below `floor` (rounding noise) set to 0."""
    a = np.asarray(array)
    if floor <= 0 or not np.issubdtype(a.dtype, np.floating):
        return a
    return np.where(np.abs(a) <= floor, 0.0, a).astype(a.dtype)


def summarize(array, floor: float | None = None) -> str:
    """A one-line summary of an array: the scalar, or mean and [min, max] (bools: % true;
    integers: the first few entries).
    Numbers below `floor` (default: the array's own rounding noise) show as 0."""
    a = np.asarray(array)
    floor = noise_floor(a) if floor is None else floor
    a = denoise(a, floor)
    if a.dtype == bool:
        return f"{a.mean():.0%} true" if a.size else "empty"
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return number(float(a.reshape(-1)[0]))
    if np.issubdtype(a.dtype, np.integer):  # class ids and counts: a mean says nothing
        flat = a.reshape(-1)
        head = ", ".join(str(v) for v in flat[:INTEGERS_SHOWN])
        return f"[{head}{', …' if a.size > INTEGERS_SHOWN else ''}] ({a.size} integers)"
    finite = a[np.isfinite(a)] if np.issubdtype(a.dtype, np.floating) else a
    bad = a.size - finite.size
    if finite.size == 0:
        return f"all {a.size} non-finite"
    mean = float(finite.mean())
    text = (
        f"μ {number(0.0 if abs(mean) <= floor else mean)} [{number(float(finite.min()))}, "
        f"{number(float(finite.max()))}]"
    )
    return f"{text} ({bad} non-finite)" if bad else text


def op_label(node: Node) -> str:
    """The registry's display label of a node's op."""
    return REGISTRY[node.op].display(node)


def caption(node: Node) -> str:
    """How a node is called in captions and notes: its name, else its op's label."""
    return node.name or op_label(node)


def node_lines(node: Node) -> tuple[str, list[str]]:
    """The title and detail lines of a node: a user-given name wins over the op's label."""
    label = op_label(node)
    if node.is_leaf:
        if node.op == "const":
            return label, [] if node.shape == () else [shape_dtype(node)]
        return node.name, [f"{node.op} {shape_dtype(node)}"]
    if node.name:
        return node.name, [label, shape_dtype(node)]
    return label, [shape_dtype(node)]


LONGEST_LINE = 80  # characters of one label line; Graphviz refuses labels past 16,384


def clip(text: str, longest: int = LONGEST_LINE) -> str:
    """`text` cut to `longest` characters, its middle replaced by '…' (a name of 100,000
    characters would make Graphviz fail, and no picture could show it)."""
    if len(text) <= longest:
        return text
    keep = longest - 1
    return f"{text[: keep - keep // 3]}…{text[len(text) - keep // 3 :]}"


def html_label(title: str, lines: Sequence[str] = (), notes: Sequence[tuple[str, str]] = ()) -> str:
    """An HTML-like Graphviz label: a bold title, grey detail lines, coloured notes (each
    line clipped to LONGEST_LINE characters)."""
    parts = [f"<B>{_text(title)}</B>"]
    parts += [f'<FONT POINT-SIZE="9" COLOR="#4b5563">{_text(t)}</FONT>' for t in lines]
    parts += [f'<FONT POINT-SIZE="9" COLOR="{color}">{_text(t)}</FONT>' for t, color in notes]
    return "<" + "<BR/>".join(parts) + ">"


def _text(text: str) -> str:
    """`text` clipped and escaped for an HTML-like label; an empty line is a no-break space
    (Graphviz refuses an empty <FONT></FONT> or <B></B>)."""
    return html.escape(clip(text)) or "&#160;"
