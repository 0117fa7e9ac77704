"""Fusion: the patterns that dominate a training step become one op each (see
`graphc/ops/fused.py`).

- Softmax cross-entropy: reverse mode turns `-mean(sum(t * log_softmax(z)))` into log_softmax's
  vjp `G - softmax(z) * sum(G)` with `G = c * t`, c the broadcast -1/batch. That is
  `softmax_xent_grad(z, labels, -c)`: (softmax - one_hot) / batch in one op over the batch.
- Its forward `sum(one_hot(y) * log_softmax(z))` becomes `target_log_prob(z, y)`, which picks
  each row's entry without building the one-hot rows. A zero times a -inf log-probability
  (an infinite logit) is nan in the unfused graph and 0 here: the strong zero of
  `simplification.py`.
- When a graph holds both (a training step: the loss and its gradient), they share one
  `log_softmax(z)`: each is rebuilt on it with `log_probs=True`, so the logits are
  normalized once; the backward is then exp, the label subtraction and the scale.
- PReLU: its vjp rules build `where(x > 0, g, g * alpha)` and `sum_to(where(x > 0, 0, g * x))`;
  each becomes one op with the mask computed once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..ir import Node, rebuild, topological_order
from .dce import value_live
from .pattern import P, Rule, build, graph_rewrite, keep_name, number, var

X, G, A = var("x"), var("g"), var("a")
ZERO, ONE = number(0.0), number(1.0)
POSITIVE = P("greater", X, ZERO)


def _row_constant(c: Node, axis: int, ndim: int) -> Node | None:
    """A node whose broadcast is `c` and which has size 1 along `axis` (of an `ndim` result)."""
    while True:
        k = axis - (ndim - c.ndim)
        if k < 0 or c.shape[k] == 1:
            return c
        if c.op != "broadcast_like":
            return None
        c = c.inputs[0]


def _scalar_root(s: Node) -> Node:
    """The scalar that `s` broadcasts, when it is one (broadcasts of a scalar are uniform)."""
    root = s
    while root.shape != () and root.op in ("broadcast_like", "expand_dims"):
        root = root.inputs[0]
    return root if root.shape == () else s


def _softmax_xent(node: Node, x: Node, soft: Node, rowsum: Node, g: Node, **_) -> Node | None:
    axis = soft.attrs["axis"]
    if rowsum.attrs["axis"] != (axis,) or not rowsum.attrs["keepdims"]:
        return None
    for c, t in (g.inputs, g.inputs[::-1]):  # noqa: B007 - t is the target after the loop
        s = _row_constant(c, axis, node.ndim)
        if s is not None:
            break
    else:
        return None
    if t.op == "one_hot" and axis == node.ndim - 1 and node.ndim >= 2:
        t = t.inputs[0]  # class ids: the fused kernel never builds the one-hot rows
    elif not t.dtype.startswith("float"):
        return None  # an int t is a weight per entry here, not class ids
    return build("softmax_xent_grad", x, t, build("neg", _scalar_root(s)), axis=axis)


def _target_log_prob(node: Node, t: Node, x: Node, ls: Node, **_) -> Node | None:
    axis = ls.attrs["axis"]
    if node.attrs["axis"] != (axis,) or node.attrs["keepdims"] or t.shape != ls.shape:
        return None
    if t.op == "one_hot" and axis == ls.ndim - 1 and ls.ndim >= 2:
        t = t.inputs[0]  # class ids: pick one entry per row
    return build("target_log_prob", x, t, axis=axis)


RULES = [
    # sum(t * log_softmax(x), axis) -> target_log_prob(x, labels): the loss's forward
    Rule(
        "target_log_prob",
        P("sum", P("mul", var("t"), P("log_softmax", X, bind="ls"))),
        _target_log_prob,
    ),
    # G - softmax(x) * sum(G, keepdims) with G = c * t, c constant per row -> softmax_xent_grad
    Rule(
        "softmax_xent_grad",
        P(
            "sub",
            P("mul", bind="g"),
            P("mul", P("softmax", X, bind="soft"), P("sum", G, bind="rowsum")),
        ),
        _softmax_xent,
    ),
    # where(x > 0, g, g * a) -> prelu_vjp_x(x, a, g)
    Rule(
        "prelu_vjp_x",
        P("where", POSITIVE, G, P("mul", G, A)),
        lambda x, a, g, **_: build("prelu_vjp_x", x, a, g),
    ),
    # where(x > 0, 0, g * x) -> prelu_vjp_alpha(x, g) (nothing summed yet)
    Rule(
        "prelu_vjp_alpha",
        P("where", POSITIVE, ZERO, P("mul", G, X)),
        lambda node, x, g, **_: build("prelu_vjp_alpha", x, g, shape=node.shape),
    ),
    # sum_to(prelu_vjp_alpha(x, g, full shape), s) -> prelu_vjp_alpha(x, g, s)
    Rule(
        "sum_to(prelu_vjp_alpha)",
        P("sum_to", P("prelu_vjp_alpha", X, G, bind="inner")),
        lambda node, x, g, inner, **_: (
            build("prelu_vjp_alpha", x, g, shape=node.attrs["shape"])
            if not inner.attrs["axis"] and not inner.attrs["lead"]
            else None
        ),
    ),
]


def fuse(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Replace the training patterns by fused ops; return the new outputs and
    {"fused": n, "<rule>": times}."""
    outputs, fired = graph_rewrite(outputs, RULES)
    outputs, shared = share_log_softmax(outputs)
    return outputs, Counter(fused=sum(fired.values())) + fired + shared


def _normalizes(n: Node) -> bool:
    """An op that takes `log_probs=`, run on raw logits: it normalizes them itself."""
    return n.attrs.get("log_probs") is False


def share_log_softmax(outputs: list[Node]) -> tuple[list[Node], Counter]:
    """Rebuild softmax cross-entropy's forward and backward (the ops that take `log_probs=`)
    on one shared log_softmax of their logits, where both are in the graph; {"shared
    log_softmax": logits shared}."""
    nodes = topological_order(outputs)
    live = value_live(outputs, nodes)  # a loss kept only for its batch size is not computed
    found: dict[tuple, set[str]] = {}
    for n in nodes:
        if _normalizes(n) and n.id in live:
            found.setdefault((n.inputs[0].id, n.attrs["axis"]), set()).add(n.op)
    both = {key for key, ops in found.items() if len(ops) > 1}
    if not both:
        return outputs, Counter()
    existing, made = {n.id for n in nodes}, {}

    def visit(old: Node, new: Node) -> Node:
        key = (old.inputs[0].id, old.attrs["axis"]) if _normalizes(old) else None
        if key not in both:
            return new
        if key not in made:
            made[key] = build("log_softmax", new.inputs[0], axis=key[1])
        shared = build(old.op, made[key], *new.inputs[1:], axis=key[1], log_probs=True)
        return keep_name(old, shared, existing)

    return rebuild(outputs, visit), Counter({"shared log_softmax": len(both)})


def _sum_of_squares(node: Node, x: Node, **_) -> Node | None:
    if node.shape != () or node.dtype not in ("float32", "float64") or x.op == "const":
        return None
    if x.dtype != node.dtype:
        return None
    return build("vdot", x, x, _site=node.site, _scope=node.scope)


def _sum_of_sum(node: Node, inner: Node, **_) -> Node | None:
    if node.shape != () or inner.attrs["keepdims"]:
        return None
    return build("sum", inner.inputs[0], axis=None, _site=node.site, _scope=node.scope)


def _factor_slope(node: Node, m: Node, g: Node, a: Node, **_) -> Node:
    slope = build("where", m, 1.0, a, _name="slope", _site=node.site, _scope=node.scope)
    return build("mul", g, slope, _site=node.site, _scope=node.scope)


def _is_bool(node: Node) -> bool:
    return node.dtype == "bool"


def _bool_operand(node: Node, x: Node, m: Node, **_) -> Node | None:
    if x.dtype not in ("float32", "float64"):
        return None
    return build(node.op, x, m, _site=node.site, _scope=node.scope)


# Rules for generated code only: the first two change the rounding, and the others help
# only renderers (a product costs what the where it replaces did; NumPy's cast of a bool
# operand is free), so gc.optimize leaves them out.
LOWERING_RULES = [
    # sum(x * x) over every axis -> vdot(x, x): one pass, no temporary
    Rule("vdot", P("sum", P("mul", X, X)), _sum_of_squares),
    # a total of partial sums (a mean over rows of row sums) -> one sum over every axis
    Rule("sum of sums", P("sum", P("sum", bind="inner")), _sum_of_sum),
    # where(m, g, g * a) -> g * where(m, 1, a), the same bits: PReLU's forward and its x
    # cotangent then share one slope, and each is a plain product
    Rule("factor slope", P("where", var("m"), G, P("mul", G, A)), _factor_slope),
    # x - mask * 1.0 -> x - mask: NumPy casts a bool operand itself (one_hot's rows)
    Rule(
        "bool operand", P(("sub", "add"), X, P("mul", var("m", test=_is_bool), ONE)), _bool_operand
    ),
]


def fuse_for_lowering(outputs: Node | Iterable[Node]) -> tuple[list[Node], Counter]:
    """Apply the lowering-only fusions; return the new outputs and {"fused": n, rule: n}."""
    # one sweep: a rule's result (a primitive) never makes another rule match
    outputs, fired = graph_rewrite(outputs, LOWERING_RULES, max_sweeps=1)
    return outputs, Counter(fused=sum(fired.values())) + fired
