"""Turning user-chosen names into safe Python identifiers and comment text.

Names come from users (and from saved graph files), so they never reach generated source
as they are: an identifier is rebuilt from letters, digits and underscores only, and
comment text is stripped of anything that could end the comment line.
"""

from __future__ import annotations

import builtins
import keyword
import re

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

    def fresh(self, name: str | None, fallback: str = "v") -> str:
        """A unique identifier derived from `name` (a numeric suffix resolves clashes)."""
        base = identifier(name, fallback)
        candidate, k = base, 1
        while candidate in self.taken:
            k += 1
            candidate = f"{base}{k}" if base.endswith("_") else f"{base}_{k}"
        self.taken.add(candidate)
        return candidate

    def internal(self, name: str) -> str:
        """A unique name with a leading underscore, which no user name can take."""
        candidate, k = f"_{name}", 1
        while candidate in self.taken:
            k += 1
            candidate = f"_{name}{k}"
        self.taken.add(candidate)
        return candidate
