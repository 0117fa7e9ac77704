"""Composites: builders (losses, regularizers, layers) made of several ops, run in a scope
named after them so that pictures can draw their nodes as one labelled box, and write the
board rule in the names of the nodes each call was given."""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ir import Node, scope


@dataclass(frozen=True)
class CompositeDef:
    """What a picture shows of a composite drawn as one box, given where the composite is
    defined (`@composite(label=..., board=...)`).

    label   how the box is called ("softmax cross-entropy"), or None: the picture makes a
            title of the builder's name
    board   the composite's derivative as the lecture writes it on the board, one line each:
            fixed lines, or a function of the display names of the builder's arguments (in
            its signature's order; a node's name, a tuple of nodes' names, any other
            argument's repr) and of
            `training` (True, False, or None for a graph drawn with both modes) giving the
            lines in the names of the inputs at that box and for the mode its numbers use
    params  the builder's parameter names, in order
    predicts  for a classification loss, the parameter holding the class scores it is
            computed on (what an exported module's predict() and accuracy read), or None
    """

    label: str | None = None
    board: tuple[str, ...] | Callable[..., tuple[str, ...]] = ()
    params: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    predicts: str | None = None

    def lines(self, names: Mapping[str, str], training: bool | None) -> tuple[str, ...]:
        """The board's lines with these argument names (a parameter not given: its own
        name, or its default) in this mode."""
        if not callable(self.board):
            return tuple(self.board)
        given = dict(self.defaults) | dict(names)
        return tuple(self.board(*(given.get(p, p) for p in self.params), training=training))


# The composite builders (losses, regularizers, layers) by the name of the scope each runs in:
# pictures draw each such scope as one labelled box unless asked to expand it.
COMPOSITE_SCOPES: dict[str, CompositeDef] = {}

# A composite's result -> the node given for each argument that was a node: what a picture
# needs to write the board in the names of the inputs (dies with the result node).
COMPOSITE_ARGUMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _argument(value):
    """What a board is given for an argument: a node (named by the picture), a tuple of
    nodes (an LSTM's state (h, c)), or any other value's repr."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Node) for v in value):
        return tuple(value)
    return repr(value)


def composite(
    builder: Callable | None = None,
    *,
    label: str | None = None,
    board: tuple[str, ...] | Callable[..., tuple[str, ...]] = (),
    predicts: str | None = None,
):
    """Run a composite builder (a loss or layer made of several ops) in a scope named after
    it, so its nodes can be drawn as one box; a user's own scopes nest around it. Bare
    (`@composite`), or with what the box shows: `@composite(label=..., board=(...))`."""
    if builder is None:
        return functools.partial(composite, label=label, board=board, predicts=predicts)
    signature = inspect.signature(builder)
    params = tuple(signature.parameters)
    defaults = tuple(
        (k, repr(p.default))
        for k, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    )
    COMPOSITE_SCOPES[builder.__name__] = CompositeDef(
        label, board if callable(board) else tuple(board), params, defaults, predicts
    )

    @functools.wraps(builder)
    def build(*args, **kwargs):
        with scope(builder.__name__):
            result = builder(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs).arguments
        except TypeError:
            return result
        given = {k: _argument(v) for k, v in bound.items()}
        for out in result if isinstance(result, tuple) else (result,):  # (h′, c′): each
            if isinstance(out, Node) and builder.__name__ in (out.scope or "").split("/"):
                COMPOSITE_ARGUMENTS[out] = given
        return result

    return build


def predicted_by(node: Node) -> Node | None:
    """The class scores a classification loss `node` was computed on (the argument its
    composite's definition names as `predicts`); None for any other node."""
    given = COMPOSITE_ARGUMENTS.get(node)
    names = [n for n in (node.scope or "").split("/") if n in COMPOSITE_SCOPES]
    if not given or not names:
        return None
    scores = given.get(COMPOSITE_SCOPES[names[-1]].predicts or "")
    return scores if isinstance(scores, Node) else None
