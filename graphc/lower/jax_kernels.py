"""jax.numpy versions of the ops that lower by calling a NumPy kernel (source copied, per
function, into exported JAX modules; graphc never imports this file).

Each has the name and arguments of the op's NumPy kernel and computes the same formula,
written as a pure function: no `out=`, no in-place updates, no data-dependent shapes.
"""

import jax.numpy as jnp


def axis_size_kernel(x, axis, dtype):
    size = 1
    for a in axis:
        size *= x.shape[a]
    return jnp.asarray(size, dtype=dtype)


def log_softmax_kernel(x, axis):
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def logsumexp_kernel(x, axis, keepdims):
    m = jnp.max(x, axis=axis, keepdims=True)
    m = jnp.where(jnp.isfinite(m), m, 0)
    out = m + jnp.log(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else jnp.squeeze(out, axis=axis)


def one_hot_kernel(labels, depth, dtype):
    return (labels[..., None] == jnp.arange(depth)).astype(dtype)


def prelu_vjp_alpha_kernel(x, g, axis, lead):
    total = jnp.sum(jnp.where(x > 0, 0, g * x), axis=axis, keepdims=True)
    return total.reshape(total.shape[lead:])


def sigmoid_kernel(x):
    e = jnp.exp(-jnp.abs(x))
    return jnp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax_kernel(x, axis):
    e = jnp.exp(x - jnp.max(x, axis=axis, keepdims=True))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def softmax_xent_grad_kernel(logits, target, scale, axis, log_probs=False):
    p = jnp.exp(logits) if log_probs else softmax_kernel(logits, axis)
    if target.ndim == logits.ndim - 1:  # class ids: an id out of range gives a zero row
        hot = target[..., None] == jnp.arange(logits.shape[-1])
        p = p * jnp.any(hot, axis=-1, keepdims=True) - hot
    else:
        p = p * jnp.sum(target, axis=axis, keepdims=True) - target
    return p * scale


def sum_to_kernel(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1
    )
    if not axes:
        return x
    total = jnp.sum(x, axis=axes, keepdims=True)
    return total.reshape(total.shape[lead:])


def target_log_prob_kernel(logits, target, axis, log_probs=False):
    shifted = logits if log_probs else logits - jnp.max(logits, axis=axis, keepdims=True)
    log_total = 0 if log_probs else jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))
    if target.ndim == logits.ndim - 1:  # class ids: an id out of range gives a zero
        valid = (target >= 0) & (target < logits.shape[-1])
        index = jnp.where(valid, target, 0)[..., None]
        picked = jnp.take_along_axis(shifted, index, axis=-1)
        return jnp.where(valid, (picked - log_total)[..., 0], 0)
    return jnp.sum(target * (shifted - log_total), axis=axis)
