"""Turning user-chosen names into safe Python identifiers and comment text.

Names come from users (and from saved graph files), so they never reach generated source
as they are: an identifier is rebuilt from letters, digits and underscores only, and
comment text is stripped of anything that could end the comment line.
"""

from __future__ import annotations

import builtins
import keyword
import re

import numpy as np

from ..errors import GraphError

# Names the generated code itself uses; a user's name never shadows them.
RESERVED = frozenset(
    {
        "np",
        "math",
        "sys",
        "json",
        "time",
        "argparse",
        "base64",
        "zlib",
        "self",
        "params",
        "state",
        "stats",
        "slots",
        "batch",
        "grads",
        "model",
        "rng",
        "out",
        "lr",
        "lr_t",
        "step",
        "n",
    }
)
_UNSAFE = re.compile(r"[^0-9A-Za-z_]+")


def identifier(name: str | None, fallback: str = "v") -> str:
    """A valid, non-keyword Python identifier made from `name` (ASCII letters, digits, _)."""
    base = _UNSAFE.sub("_", name or "").strip("_") or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    if (
        keyword.iskeyword(base)
        or keyword.issoftkeyword(base)
        or base in RESERVED
        or hasattr(builtins, base)
        or base.startswith("__")
    ):
        base = f"{base}_"
    return base


def comment(text: str, limit: int = 100) -> str:
    """`text` made safe for a `#` comment or a docstring: one line of printable characters
    without quotes or backslashes, at most `limit` characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))  # no line breaks
    text = text.replace('"', "'").replace("\\", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def np_dtype(name: str) -> str:
    """Source for the NumPy dtype called `name`; np.bool_ for bool, since np.bool exists only
    from NumPy 2 and generated files run on NumPy 1.26 too."""
    return "np.bool_" if name == "bool" else f"np.{name}"


class Namer:
    """Hands out unique identifiers within one generated module."""

    def __init__(self, taken: set[str] | None = None):
        self.taken: set[str] = set(taken or ())
        self._next: dict[str, int] = {}  # base -> the next suffix to try: no probing from 2

    def fresh(self, name: str | None, fallback: str = "v") -> str:
        """A unique identifier derived from `name` (a numeric suffix resolves clashes)."""
        base = identifier(name, fallback)
        return self._unique(base, "" if base.endswith("_") else "_")

    def internal(self, name: str) -> str:
        """A unique name with a leading underscore, which no user name can take."""
        return self._unique(f"_{name}", "")

    def _unique(self, base: str, sep: str) -> str:
        candidate, k = base, self._next.get(base, 1)
        if k > 1 or candidate in self.taken:
            k = max(k, 2)
            candidate = f"{base}{sep}{k}"
            while candidate in self.taken:  # taken by another base's suffix: rare
                k += 1
                candidate = f"{base}{sep}{k}"
        self._next[base] = k + 1
        self.taken.add(candidate)
        return candidate


def literal(value) -> str:
    """Python source for an attribute value; only plain data is allowed into source."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return repr(None if value is None else bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return repr(value) if np.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise GraphError(
        f"cannot write attribute value {value!r} ({type(value).__name__}) into generated source"
    )
