"""Each composite's board written as NumPy, for tests/test_gate_rules.py: name -> (builder,
sample inputs, words its board must say in (inference, training), the board's derivative:
(values, upstream, training) -> {input: ∂}). The inputs' names differ from the builders'
parameters: a board that fell back to its own letters would not name them."""

import numpy as np

import graphc as gc
from graphc.ops.registry import apply

# ---- composites: each board's formula, in NumPy, per mode --------------------------------


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _batch_norm(v, up, training, eps=1e-5):
    x, gamma = v["x"], v["gamma"]
    if training:
        mu, var = x.mean(0), x.var(0)
    else:
        mu, var = np.zeros(x.shape[1]), np.ones(x.shape[1])  # fresh running statistics
    sigma = np.sqrt(var + eps)
    xhat = (x - mu) / sigma
    if training:
        dx = gamma / sigma * (up - up.mean(0) - xhat * (up * xhat).mean(0))
    else:
        dx = gamma / sigma * up
    return {"x": dx, "gamma": (up * xhat).sum(0), "beta": up.sum(0)}


def _layer_norm(v, up, eps=1e-5):
    x, gamma = v["x"], v["gamma"]
    sigma = np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - x.mean(-1, keepdims=True)) / sigma
    g = gamma * up  # gamma scales the upstream before the means over the features
    dx = (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)) / sigma
    return {"x": dx, "gamma": (up * xhat).sum(0), "beta": up.sum(0)}


def _scatter(ids, up, rows):
    table = np.zeros((rows, up.shape[-1]))
    np.add.at(table, ids, up)
    return table


def _dropout(v, up, training):
    mask = gc.evaluate(apply("dropout_mask", gc.const(v["x"]), rate=0.5, seed=0), {})
    return {"x": up * mask if training else up}


# name -> (builder, sample inputs, words its board must say in (inference, training),
#          the board's derivative in NumPy: (values, upstream, training) -> {input: ∂})
COMPOSITES = {
    "softmax_cross_entropy": (
        lambda v: gc.softmax_cross_entropy(v["logits"], v["labels"]),
        {"logits": (3, 4), "labels": np.array([0, 3, 1])},
        ("(p − labels) / N", "(p − labels) / N"),
        lambda v, up, t: {
            "logits": up * (_softmax(v["logits"]) - np.eye(4)[v["labels"]]) / 3,
        },
    ),
    "binary_cross_entropy_with_logits": (
        lambda v: gc.binary_cross_entropy_with_logits(v["logits"], v["target"]),
        {"logits": (3, 2), "target": (3, 2)},
        ("(σ(logits) − target) / n", "(σ(logits) − target) / n"),
        lambda v, up, t: {
            "logits": up * (1 / (1 + np.exp(-v["logits"])) - v["target"]) / 6,
            "target": -up * v["logits"] / 6,
        },
    ),
    "mse": (
        lambda v: gc.mse(v["pred"], v["target"]),
        {"pred": (3, 2), "target": (3, 2)},
        ("2 (pred − target) / n", "2 (pred − target) / n"),
        lambda v, up, t: {
            "pred": up * 2 * (v["pred"] - v["target"]) / 6,
            "target": -up * 2 * (v["pred"] - v["target"]) / 6,
        },
    ),
    "l2": (
        lambda v: gc.l2(v["w"]),
        {"w": (3, 2)},
        ("2 w",) * 2,
        lambda v, up, t: {"w": up * 2 * v["w"]},
    ),
    "l1": (
        lambda v: gc.l1(v["w"]),
        {"w": (3, 2)},
        ("sign(w)",) * 2,
        lambda v, up, t: {"w": up * np.sign(v["w"])},
    ),
    "batch_norm": (
        lambda v: gc.batch_norm(v["x"], v["gamma"], v["beta"]),
        {"x": (4, 3), "gamma": (3,), "beta": (3,)},
        ("gamma/σ · δ (the running statistics", "(δ − mean δ − x̂ · mean(δ·x̂))"),
        _batch_norm,
    ),
    "layer_norm": (
        lambda v: gc.layer_norm(v["x"], v["gamma"], v["beta"]),
        {"x": (4, 3), "gamma": (3,), "beta": (3,)},
        ("(ĝ − mean ĝ − x̂ · mean(ĝ·x̂)) / σ, means over the features ĝ = gamma·δ",) * 2,
        lambda v, up, t: _layer_norm(v, up),
    ),
    "embedding": (
        lambda v: gc.embedding(v["ids"], v["table"]),
        {"ids": np.array([2, 0, 2]), "table": (4, 3)},
        ("∂/∂table = the upstream rows added into the rows ids picks",) * 2,
        lambda v, up, t: {"table": _scatter(v["ids"], up, 4)},
    ),
    "dropout": (
        lambda v: gc.dropout(v["x"], 0.5, seed=0),
        {"x": (3, 4)},
        ("identity at inference", "mask: 0 where a unit is dropped, 1/(1 − 0.5)"),
        _dropout,
    ),
}


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _attention(v, up, t):
    q, k, val = v["query"], v["key"], v["value"]
    s = 1 / np.sqrt(q.shape[-1])
    scores = np.where(np.tril(np.ones((4, 4), bool)), q @ k.T * s, -np.inf)  # causal
    A = _softmax(scores)
    dA = up @ val.T
    dS = A * (dA - (dA * A).sum(-1, keepdims=True))
    return {"value": A.T @ up, "query": s * dS @ k, "key": s * dS.T @ q}


def _products(v, da, dh=None, direct=0.0):
    """The board's matrix-product lines: ∂/∂x = δa W_ih, ∂/∂h = direct + δa W_hh, ..."""
    dh = da if dh is None else dh
    out = {"xt": da @ v["Wi"], "h0": direct + dh @ v["Wh"], "Wi": da.T @ v["xt"]}
    out |= {"Wh": dh.T @ v["h0"], "bi": da.sum(0)}
    return out | ({"bh": dh.sum(0)} if "bh" in v else {})


def _affine(v):
    return v["xt"] @ v["Wi"].T + v["bi"] + v["h0"] @ v["Wh"].T + v.get("bh", 0.0)


def _rnn(v, up, t):
    h = np.tanh(_affine(v))
    return _products(v, up * (1 - h**2))


def lstm_board(v, up, t, up_c=0.0):
    a_i, a_f, a_g, a_o = np.split(_affine(v), 4, axis=-1)
    i, f, g, o = _sig(a_i), _sig(a_f), np.tanh(a_g), _sig(a_o)
    c = f * v["c0"] + i * g
    dc = up * o * (1 - np.tanh(c) ** 2) + up_c  # δc = δh′ ⊙ o ⊙ (1 − tanh²(c′)) + δc′
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * v["c0"] * f * (1 - f), dc * i * (1 - g**2)]
        + [up * np.tanh(c) * o * (1 - o)],
        axis=-1,
    )
    return _products(v, da) | {"c0": dc * f}


def _gru(v, up, t):
    gi = np.split(v["xt"] @ v["Wi"].T + v["bi"], 3, axis=-1)
    gh = np.split(v["h0"] @ v["Wh"].T + v["bh"], 3, axis=-1)
    r, u = _sig(gi[0] + gh[0]), _sig(gi[1] + gh[1])
    n = np.tanh(gi[2] + r * gh[2])
    dn = up * (1 - u) * (1 - n**2)
    du = up * (v["h0"] - n) * u * (1 - u)
    dr = dn * gh[2] * r * (1 - r)
    dgi, dgh = np.concatenate([dr, du, dn], -1), np.concatenate([dr, du, dn * r], -1)
    return _products(v, dgi, dgh, up * u)


def _gemm(v, up, t):  # out = 0.5 · featᵀ kernel + 2.0 · shift
    return {
        "feat": 0.5 * v["kernel"] @ up.T,
        "kernel": 0.5 * v["feat"] @ up,
        "shift": 2.0 * up.sum(0),
    }


def _bn_inference(v, up, t):
    per = (1, -1, 1, 1)
    sigma = np.sqrt(v["var0"] + 1e-5).reshape(per)
    xhat = (v["img"] - v["mu0"].reshape(per)) / sigma
    scale = v["sc"].reshape(per)
    axes = (0, 2, 3)
    return {
        "img": scale / sigma * up,
        "sc": (up * xhat).sum(axes),
        "sh": up.sum(axes),
        "mu0": -(scale / sigma * up).sum(axes),
        "var0": -(up * scale * xhat / (2 * sigma**2)).sum(axes),
    }


def _onnx_layer_norm(v, up, t):
    x, axes = v["xs"], (1, 2)
    sigma = np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    xhat = (x - x.mean(axes, keepdims=True)) / sigma
    g = v["sc"] * up
    mean = lambda a: a.mean(axes, keepdims=True)  # noqa: E731
    dx = (g - mean(g) - xhat * mean(g * xhat)) / sigma
    return {"xs": dx, "sc": (up * xhat).sum(0), "sh": up.sum(0)}


def _onnx(name):
    from graphc.onnx.ops import layers

    return getattr(layers, name)


RECURRENT = {"xt": (3, 2), "h0": (3, 4), "Wi": (4, 2), "Wh": (4, 4), "bi": (4,), "bh": (4,)}
# the inputs' names differ from the builders' parameters: a board that fell back to its own
# letters would not name them
COMPOSITES |= {
    "attention": (
        lambda v: gc.attention(v["query"], v["key"], v["value"], causal=True),
        {"query": (4, 3), "key": (4, 3), "value": (4, 2)},
        ("∂/∂query = s · ∂S key, ∂/∂key = s · ∂Sᵀ query",) * 2,
        _attention,
    ),
    "rnn_cell": (
        lambda v: gc.rnn_cell(v["xt"], v["h0"], v["Wi"], v["Wh"], v["bi"], v["bh"]),
        RECURRENT,
        ("∂/∂h0 = δa Wh, ∂/∂Wh = δaᵀ h0",) * 2,
        _rnn,
    ),
    "lstm_cell": (
        lambda v: gc.lstm_cell(v["xt"], (v["h0"], v["c0"]), v["Wi"], v["Wh"], v["bi"])[0],
        {"xt": (2, 2), "h0": (2, 3), "c0": (2, 3), "Wi": (12, 2), "Wh": (12, 3), "bi": (12,)},
        ("∂/∂c0 = δc ⊙ f: the gradient's path through time",) * 2,
        lstm_board,
    ),
    "gru_cell": (
        lambda v: gc.gru_cell(v["xt"], v["h0"], v["Wi"], v["Wh"], v["bi"], v["bh"]),
        RECURRENT | {"Wi": (12, 2), "Wh": (12, 4), "bi": (12,), "bh": (12,)},
        ("∂/∂h0 = δ ⊙ u + δgh Wh",) * 2,
        _gru,
    ),
    "gemm": (
        lambda v: _onnx("gemm")(v["feat"], v["kernel"], v["shift"], 0.5, 2.0, True, False),
        {"feat": (2, 3), "kernel": (2, 4), "shift": (4,)},
        ("∂/∂feat = 0.5 · kernel δᵀ",) * 2,
        _gemm,
    ),
    "batch_norm_inference": (
        lambda v: _onnx("batch_norm_inference")(
            v["img"], v["sc"], v["sh"], v["mu0"], v["var0"], 1e-5
        ),
        {
            "img": (2, 3, 2, 2),
            "sc": (3,),
            "sh": (3,),
            "mu0": (3,),
            "var0": np.array([0.5, 1.0, 2.0]),
        },
        ("∂/∂mu0 = −Σ sc/σ · δ",) * 2,
        _bn_inference,
    ),
    "onnx_layer_norm": (
        lambda v: _onnx("onnx_layer_norm")(v["xs"], v["sc"], v["sh"], 1, 1e-5)[0],
        {"xs": (3, 2, 2), "sc": (2, 2), "sh": (2, 2)},
        ("∂/∂sc = Σ δ·x̂, ∂/∂sh = Σ δ",) * 2,
        _onnx_layer_norm,
    ),
}
