"""The per-step learning rate of optimizers whose step size changes with the step count
(copied whole into every generated module that uses one, so it imports only `math`; the
NumPy modules call it with `math`, the JAX module inside its jitted step with `jnp`)."""

import math


def adam_step_size(lr, step, beta1, beta2, xp=math):
    """Adam's bias corrections folded into the learning rate: lr * sqrt(1 - beta2**t) /
    (1 - beta1**t), each 1 - beta**t as -expm1(t log beta), which keeps every digit where
    the subtraction would cancel half of them (a float32 step in JAX)."""
    return lr * (-xp.expm1(step * math.log(beta2))) ** 0.5 / -xp.expm1(step * math.log(beta1))
