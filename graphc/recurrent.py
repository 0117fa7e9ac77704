"""Recurrent cells with torch.nn's gate order and weight shapes (RNNCell with tanh,
LSTMCell, GRUCell), each a composite drawn as one box, and `unroll`, which applies a cell
along the time axis, one scope per step: the graph is the unrolled network the lecture
draws, and backpropagation through it is backpropagation through time."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import GraphError, ShapeError
from .ir import Node, scope, user_site
from .ops.composite import composite
from .ops.elementwise import sigmoid, tanh
from .ops.registry import lift
from .ops.sequence import index, split


def _gates(x: Node, h: Node, w_ih, w_hh, b_ih, b_hh, count: int, what: str) -> tuple:
    """x W_ihᵀ + b_ih and h W_hhᵀ + b_hh, after checking every size against the others."""
    w_ih, w_hh = lift(w_ih, x), lift(w_hh, x)
    hidden = h.shape[-1] if h.ndim == 2 else None
    if x.ndim != 2 or h.ndim != 2 or x.shape[-1] is None or hidden is None:
        raise ShapeError(
            f"{user_site()}: {what} takes x (batch, features) and h (batch, hidden), "
            f"got {x.shape} and {h.shape}"
        )
    expected = {
        "w_ih": (count * hidden, x.shape[-1]),
        "w_hh": (count * hidden, hidden),
        "b_ih": (count * hidden,),
        "b_hh": (count * hidden,),
    }
    given = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    for name, want in expected.items():
        node = given[name]
        if node is not None and lift(node, x).shape != want:
            raise ShapeError(
                f"{user_site()}: {what}: {name} has shape {lift(node, x).shape}, expected "
                f"{want} for input size {x.shape[-1]} and hidden size {hidden}"
            )
    gi = x @ w_ih.T + (0.0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0.0 if b_hh is None else b_hh)
    return gi, gh


def _affine(x, h, w_ih, w_hh, b_ih, b_hh) -> str:
    """x W_ihᵀ + b_ih + h W_hhᵀ + b_hh in the names at the box (a bias not given: left out)."""
    return " + ".join(t for t in (f"{x} {w_ih}ᵀ", b_ih, f"{h} {w_hh}ᵀ", b_hh) if t != "None")


def _products(x, h, w_ih, w_hh, b_ih, b_hh, dx: str, dh: str, direct="") -> tuple[str, ...]:
    """The two matrix products' rules, given the gradient of each pre-activation (and what
    reaches h other than through W_hh)."""
    biases = ", ".join(f"∂/∂{b} = Σ {d}" for b, d in ((b_ih, dx), (b_hh, dh)) if b != "None")
    return (
        f"∂/∂{x} = {dx} {w_ih}, ∂/∂{w_ih} = {dx}ᵀ {x}",
        f"∂/∂{h} = {direct}{dh} {w_hh}, ∂/∂{w_hh} = {dh}ᵀ {h}",
        *((f"{biases} (Σ over the batch)",) if biases else ()),
    )


def _rnn_board(x, h, w_ih, w_hh, b_ih, b_hh, *, training):
    """An RNN cell's rule in its inputs' names (δ: the upstream gradient of h′)."""
    return (
        f"h′ = tanh(a), a = {_affine(x, h, w_ih, w_hh, b_ih, b_hh)}",
        "δa = δ ⊙ (1 − h′²), δ = upstream",
        *_products(x, h, w_ih, w_hh, b_ih, b_hh, "δa", "δa"),
    )


def _lstm_board(x, state, w_ih, w_hh, b_ih, b_hh, *, training):
    """An LSTM cell's rule in its inputs' names: the cell state's path, then the gates."""
    h, c = state if isinstance(state, tuple) else ("h", "c")
    return (
        f"a = {_affine(x, h, w_ih, w_hh, b_ih, b_hh)} = [a_i, a_f, a_g, a_o]",
        "i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)",
        f"c′ = f ⊙ {c} + i ⊙ g, h′ = o ⊙ tanh(c′)",
        "δc = δh′ ⊙ o ⊙ (1 − tanh²(c′)) + δc′ (δh′, δc′: the upstream of h′, c′)",
        f"∂/∂{c} = δc ⊙ f: the gradient's path through time",
        "δa = [δa_i, δa_f, δa_g, δa_o]: δa_i = δc ⊙ g ⊙ i(1 − i),",
        f"δa_f = δc ⊙ {c} ⊙ f(1 − f), δa_g = δc ⊙ i ⊙ (1 − g²),",
        "δa_o = δh′ ⊙ tanh(c′) ⊙ o(1 − o)",
        *_products(x, h, w_ih, w_hh, b_ih, b_hh, "δa", "δa"),
    )


def _gru_board(x, h, w_ih, w_hh, b_ih, b_hh, *, training):
    """A GRU cell's rule in its inputs' names: gi = x W_ihᵀ + b_ih and gh = h W_hhᵀ + b_hh
    split into the reset, update and new parts (u is the update gate, torch's z)."""
    gi = " + ".join(t for t in (f"{x} {w_ih}ᵀ", b_ih) if t != "None")
    gh = " + ".join(t for t in (f"{h} {w_hh}ᵀ", b_hh) if t != "None")
    return (
        f"gi = {gi}, gh = {gh}, each [r, u, n] parts",
        "r, u = σ(gi_r + gh_r), σ(gi_u + gh_u), n = tanh(gi_n + r ⊙ gh_n)",
        f"h′ = (1 − u) ⊙ n + u ⊙ {h}, δ = upstream",
        f"δn = δ ⊙ (1 − u) ⊙ (1 − n²), δu = δ ⊙ ({h} − n) ⊙ u(1 − u)",
        "δr = δn ⊙ gh_n ⊙ r(1 − r)",
        "δgi = [δr, δu, δn], δgh = [δr, δu, δn ⊙ r]",
        *_products(x, h, w_ih, w_hh, b_ih, b_hh, "δgi", "δgh", "δ ⊙ u + "),
    )


@composite(label="RNN cell", board=_rnn_board)
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Node:
    """One step of an Elman RNN with tanh (torch.nn.RNNCell): w_ih (H, D), w_hh (H, H)."""
    x, h = lift(x), lift(h)
    gi, gh = _gates(x, h, w_ih, w_hh, b_ih, b_hh, 1, "rnn_cell")
    return tanh(gi + gh)


@composite(label="LSTM cell", board=_lstm_board)
def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Node, Node]:
    """One LSTM step (torch.nn.LSTMCell): state = (h, c); w_ih (4H, D), w_hh (4H, H) hold
    the input, forget, cell and output gates in that order. Returns (h′, c′)."""
    h, c = _pair(state, "lstm_cell")
    x = lift(x)
    if c.shape != h.shape:
        raise ShapeError(
            f"{user_site()}: lstm_cell: the cell state {c.shape} and the hidden state "
            f"{h.shape} differ"
        )
    gi, gh = _gates(x, h, w_ih, w_hh, b_ih, b_hh, 4, "lstm_cell")
    i, f, g, o = split(gi + gh, h.shape[-1], axis=-1)
    c_next = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c_next), c_next


@composite(label="GRU cell", board=_gru_board)
def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Node:
    """One GRU step (torch.nn.GRUCell): w_ih (3H, D), w_hh (3H, H) hold the reset, update
    and new gates in that order."""
    x, h = lift(x), lift(h)
    gi, gh = _gates(x, h, w_ih, w_hh, b_ih, b_hh, 3, "gru_cell")
    i_r, i_z, i_n = split(gi, h.shape[-1], axis=-1)
    h_r, h_z, h_n = split(gh, h.shape[-1], axis=-1)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)
    return (1.0 - z) * n + z * h


def _pair(state, what: str) -> tuple[Node, Node]:
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise GraphError(f"{user_site()}: {what} takes its state as a pair (h, c), got {state!r}")
    return lift(state[0]), lift(state[1])


STEP_SCOPE = "step{}"  # the scope of step t + 1 of an unrolled cell
_STEP = re.compile(r"step([1-9][0-9]*)")


def step_of(scope: str | None) -> tuple[str, int] | None:
    """(the scope around it, t) when `scope` lies in step t + 1 of an unrolled cell (a scope
    `unroll` names), else None: the readable module writes such steps as one loop."""
    parts = (scope or "").split("/")
    for k, part in enumerate(parts):
        found = _STEP.fullmatch(part)
        if found:
            return "/".join(parts[:k]), int(found.group(1)) - 1
    return None


def unroll(cell: Callable, xs, h0, axis: int = 1) -> tuple[list[Node], object]:
    """Apply `cell(x_t, state) -> state` at each step t of `xs` along `axis` (default 1:
    xs is (batch, time, features), torch's batch_first), starting from `h0`. Step t runs in
    scope "step{t+1}" (STEP_SCOPE), so a picture draws one box per step and the readable
    module writes the steps as one `for t in range(T)` loop (codegen/readable_loop.py), the
    cell's lines once. Returns (the hidden state after each step, the final state); for an
    LSTM the state is (h, c) and the list holds h."""
    xs = lift(xs)
    if isinstance(axis, bool) or not isinstance(axis, int) or not -xs.ndim <= axis < xs.ndim:
        raise ShapeError(
            f"{user_site()}: unroll: axis must be an int in range for {xs.shape}, got {axis!r}"
        )
    steps = xs.shape[axis]
    if steps is None:
        raise ShapeError(
            f"{user_site()}: unroll over axis {axis} of {xs.shape}, whose length is unknown "
            "(None); give the time axis a fixed length"
        )
    key = (slice(None),) * (axis % xs.ndim)
    state, hidden = h0, []
    for t in range(steps):
        with scope(STEP_SCOPE.format(t + 1)):
            state = cell(index(xs, (*key, t)), state)
        _check_state(state, cell)
        hidden.append(state[0] if isinstance(state, (tuple, list)) else state)
    return hidden, state


def _check_state(state, cell: Callable) -> None:
    """The state a cell returned: a node, or a tuple of nodes (an LSTM's (h, c))."""
    parts = state if isinstance(state, (tuple, list)) and state else (state,)
    if not all(isinstance(part, Node) for part in parts):
        name = getattr(cell, "__name__", "the cell")
        raise GraphError(
            f"{user_site()}: unroll: {name} returned {type(state).__name__} "
            f"{str(state)[:60]!r}; a cell returns the next state, a node or a pair (h, c) of "
            "nodes"
        )
