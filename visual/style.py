"""The look of a rendering, as data: one row per kind of node, the graph and edge defaults,
and the colour scale for gradient magnitudes. Change a picture here, not in the builders."""

from __future__ import annotations

import math

FONT = "Helvetica"

GRAPH = {
    "rankdir": "TB",
    "fontname": FONT,
    "fontsize": "12",
    "nodesep": "0.3",
    "ranksep": "0.35",
    "ordering": "in",
    "pad": "0.2",
}
NODE = {
    "fontname": FONT,
    "fontsize": "11",
    "margin": "0.08,0.04",
    "height": "0.3",
    "penwidth": "1.2",
}
EDGE = {
    "fontname": FONT,
    "fontsize": "9",
    "fontcolor": "#4b5563",
    "color": "#6b7280",
    "arrowsize": "0.6",
}

# kind -> Graphviz node attributes. Inputs are rounded blue boxes, params yellow boxes,
# state purple dashed boxes, consts plain grey text, ops white ellipses; the outputs get a
# double border, the backward graph is red.
NODE_STYLE: dict[str, dict[str, str]] = {
    "input": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#dbeafe",
        "color": "#1d4ed8",
    },
    "param": {"shape": "box", "style": "filled", "fillcolor": "#fef3c7", "color": "#b45309"},
    "state": {"shape": "box", "style": "filled,dashed", "fillcolor": "#ede9fe", "color": "#6d28d9"},
    "const": {"shape": "plain", "fontcolor": "#6b7280", "fontsize": "10"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff", "color": "#374151"},
    "gate": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#374151"},
    "output": {
        "shape": "ellipse",
        "style": "filled",
        "fillcolor": "#dcfce7",
        "color": "#15803d",
        "peripheries": "2",
    },
    "backward": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff1f2", "color": "#be123c"},
    "gradient": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#fecdd3",
        "color": "#be123c",
        "peripheries": "2",
    },
    "composite": {
        "shape": "box",
        "style": "rounded,filled,bold",
        "fillcolor": "#ecfeff",
        "color": "#0e7490",
        "margin": "0.14,0.06",
    },
    "scope": {
        "shape": "box3d",
        "style": "filled",
        "fillcolor": "#f3f4f6",
        "color": "#374151",
        "margin": "0.2,0.12",
    },
}

# Which attributes a mark adds on top of the kind's style.
MARKS: dict[str, dict[str, str]] = {
    "highlight": {"color": "#db2777", "penwidth": "2.8"},
    "added": {"color": "#16a34a", "penwidth": "2.6", "fillcolor": "#dcfce7"},
    "removed": {
        "color": "#dc2626",
        "penwidth": "2.6",
        "fillcolor": "#fee2e2",
        "style": "filled,dashed",
    },
    "merged": {"color": "#d97706", "penwidth": "2.6"},
    "faded": {"color": "#d1d5db", "fontcolor": "#9ca3af"},
}
HIGHLIGHT_EDGE = {"color": "#db2777", "penwidth": "2.4"}
FADED_EDGE = {"color": "#d1d5db", "fontcolor": "#9ca3af"}
TIE_EDGE = {
    "style": "dotted",
    "color": "#be123c",
    "arrowhead": "none",
    "constraint": "false",
    "penwidth": "0.9",
}
REUSE_EDGE = {"style": "dashed", "color": "#9ca3af", "constraint": "false"}

CLUSTER = {
    "style": "rounded,filled",
    "fillcolor": "#f9fafb",
    "color": "#9ca3af",
    "fontname": FONT,
    "fontsize": "11",
    "fontcolor": "#374151",
    "labeljust": "l",
}
SIDE_CLUSTER = {
    "style": "rounded",
    "color": "#6b7280",
    "fontname": FONT,
    "fontsize": "14",
    "labeljust": "c",
}

# Gradient magnitude colour scale, from vanishing (pale grey) to large (dark red): stops at
# log10 |g| (mean absolute value of the gradient flowing along the edge).
VANISHING = 1e-7
GRADIENT_STOPS = (
    (-7.0, (0xD1, 0xD5, 0xDB)),
    (-5.0, (0x93, 0xC5, 0xFD)),
    (-3.0, (0x25, 0x63, 0xEB)),
    (-1.0, (0x7C, 0x3A, 0xED)),
    (1.0, (0xEA, 0x58, 0x0C)),
    (2.0, (0x7F, 0x1D, 0x1D)),
)


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def gradient_color(magnitude: float) -> str:
    """The edge colour for a gradient of this mean absolute value (log scale)."""
    if not math.isfinite(magnitude):
        return "#7f1d1d"
    stops = GRADIENT_STOPS
    level = math.log10(magnitude) if magnitude > 0 else stops[0][0]
    if level <= stops[0][0]:
        return _hex(stops[0][1])
    for (lo, c0), (hi, c1) in zip(stops, stops[1:]):
        if level <= hi:
            t = (level - lo) / (hi - lo)
            return _hex(a + t * (b - a) for a, b in zip(c0, c1))
    return _hex(stops[-1][1])


def gradient_width(magnitude: float) -> str:
    """Edge pen width for a gradient magnitude: thin when vanishing, thick when large."""
    if not math.isfinite(magnitude) or magnitude <= 0:
        return "0.8"
    level = min(max(math.log10(magnitude), -7.0), 2.0)
    return f"{0.8 + (level + 7.0) * 0.3:.2f}"
