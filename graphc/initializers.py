"""Initial values of params: the one definition, for `gc.init_params` and for exported files.

NumPy and the standard library only: `graphc.export` copies this module's functions into
every generated training module, so a file trains from the same initial values.
"""

import math
import zlib

import numpy as np

NAMES = (
    "zeros",
    "ones",
    "normal",
    "uniform",
    "he_normal",
    "he_uniform",
    "xavier_normal",
    "xavier_uniform",
)


def initial_value(name, init, shape, dtype, seed):
    """A param's initial array (seeded per name, so adding a param does not change the
    others); `init` is an array, a float or one of NAMES (fans as in Glorot & Bengio and He
    et al.: a matrix is (fan_in, fan_out), a convolution's weights (out, in, *kernel))."""
    if isinstance(init, np.ndarray):
        return init.astype(dtype, copy=True)
    if isinstance(init, float):
        return np.full(shape, init, dtype=dtype)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    fan_in, fan_out = (shape[0], shape[-1]) if shape else (1, 1)
    if len(shape) > 2:  # convolution weights (C_out, C_in / groups, *kernel), as PyTorch
        window = int(np.prod(shape[2:]))
        fan_in, fan_out = shape[1] * window, shape[0] * window
    draws = {
        "zeros": lambda: np.zeros(shape),
        "ones": lambda: np.ones(shape),
        "normal": lambda: rng.normal(0.0, 0.01, shape),
        "uniform": lambda: rng.uniform(-0.05, 0.05, shape),
        "he_normal": lambda: rng.normal(0.0, math.sqrt(2 / fan_in), shape),
        "he_uniform": lambda: rng.uniform(-1, 1, shape) * math.sqrt(6 / fan_in),
        "xavier_normal": lambda: rng.normal(0.0, math.sqrt(2 / (fan_in + fan_out)), shape),
        "xavier_uniform": lambda: rng.uniform(-1, 1, shape) * math.sqrt(6 / (fan_in + fan_out)),
    }
    return np.asarray(draws[init](), dtype=dtype)
