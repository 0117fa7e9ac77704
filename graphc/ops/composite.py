"""Composites: builders (losses, regularizers, layers) made of several ops, run in a scope
named after them so that pictures can draw their nodes as one labelled box."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..ir import scope


@dataclass(frozen=True)
class CompositeDef:
    """What a picture shows of a composite drawn as one box, given where the composite is
    defined (`@composite(label=..., board=...)`).

    label  how the box is called ("softmax cross-entropy"), or None: the picture makes a
           title of the builder's name
    board  the composite's derivative as the lecture writes it on the board, one line each
    """

    label: str | None = None
    board: tuple[str, ...] = ()


# The composite builders (losses, regularizers, layers) by the name of the scope each runs in:
# pictures draw each such scope as one labelled box unless asked to expand it.
COMPOSITE_SCOPES: dict[str, CompositeDef] = {}


def composite(
    builder: Callable | None = None, *, label: str | None = None, board: tuple[str, ...] = ()
):
    """Run a composite builder (a loss or layer made of several ops) in a scope named after
    it, so its nodes can be drawn as one box; a user's own scopes nest around it. Bare
    (`@composite`), or with what the box shows: `@composite(label=..., board=(...))`."""
    if builder is None:
        return functools.partial(composite, label=label, board=board)
    COMPOSITE_SCOPES[builder.__name__] = CompositeDef(label, tuple(board))

    @functools.wraps(builder)
    def build(*args, **kwargs):
        with scope(builder.__name__):
            return builder(*args, **kwargs)

    return build
