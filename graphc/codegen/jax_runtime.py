"""The runtime every exported JAX module carries (its source is copied whole into the file).

graphc never imports this module: it needs JAX, which graphc does not. The exporter reads
its source and copies it, beside the NumPy data handling of training.py, into the JAX
training file. Everything here is a pure function of arrays except the training loop,
which keeps the host-side bookkeeping (shuffling, history, printing).

Devices: fit() trains data-parallel on a one-axis mesh named "batch": each minibatch is
split over the devices, params and optimizer state are replicated, and XLA inserts the
reduction of the gradients itself. Across hosts, call jax.distributed.initialize() in every
process before fit(); jax.devices() then lists every host's devices and the same code
splits each batch over all of them (every process must load the same data and seed).

Pacing: the loop dispatches a step, then waits for the one before it, so the host runs one
step ahead of the devices and no further. Unpaced, XLA's CPU client queues up to 32
programs per device and takes each one's slot on a worker thread; with as few workers as
cores, a step whose gradient reduction waits for a peer device can hold the last free
worker while the peer's step waits for a slot (a hang seen with two host-platform devices
on a two-core machine).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def dropout_mask(key, x, rate):
    """A fresh inverted-dropout mask shaped like x: 0 with probability `rate`, else 1/(1-rate)."""
    keep = jax.random.uniform(key, x.shape, x.dtype) >= rate
    return keep * jnp.asarray(1.0 / (1.0 - rate), x.dtype)


def seeded_dropout_mask(x, rate, seed):
    """The dropout op's own seeded mask, as gc.evaluate draws it: made with NumPy while the
    function is traced (x's shape is static), a constant of the compiled function."""
    keep = np.random.default_rng(seed).random(x.shape) >= rate
    return jnp.asarray(keep.astype(x.dtype) / (1.0 - rate))


def _taps(x, kernel, stride, padding, dilation, fill):
    """Per kernel offset (row-major), the strided slice of x padded with `fill` that the
    offset reads in every window: (N, C, *positions) each."""
    x = jnp.pad(x, ((0, 0), (0, 0), *padding), constant_values=fill)
    positions = [
        (size - dl * (k - 1) - 1) // st + 1
        for size, k, st, dl in zip(x.shape[2:], kernel, stride, dilation)
    ]
    return [
        x[
            (
                ...,
                *(
                    slice(o * dl, o * dl + (p - 1) * st + 1, st)
                    for o, dl, p, st in zip(offset, dilation, positions, stride)
                ),
            )
        ]
        for offset in np.ndindex(*kernel)
    ]


def windows(x, kernel, stride, padding, dilation, fill=0.0):
    """The windows of x (N, C, *size) as (N, *positions, C, *kernel), as graphc's NumPy
    `windows` lays them out: one strided slice of the padded input per kernel offset,
    stacked (a copy, exact for any fill: max pooling pads with -inf, which a patch
    convolution's identity kernel would turn into NaN)."""
    d = len(kernel)
    taps = _taps(x, kernel, stride, padding, dilation, fill)
    positions = taps[0].shape[2:]
    patches = jnp.stack(taps, axis=2).reshape(x.shape[0], x.shape[1], *kernel, *positions)
    return patches.transpose(0, *range(2 + d, 2 + 2 * d), 1, *range(2, 2 + d))


def overlap_add(p, size, kernel, stride, padding, dilation):
    """The adjoint of `windows`: each window's entries added back where they came from."""
    d = len(kernel)
    shape = (p.shape[0], p.shape[1 + d], *size)
    (out,) = jax.linear_transpose(
        lambda x: windows(x, kernel, stride, padding, dilation),
        jax.ShapeDtypeStruct(shape, p.dtype),
    )(p)
    return out


def _conv(x, W, stride, padding, dilation, groups):
    """The convolution of x (N, C, *size) by W (C_out, C / groups, *kernel): one
    lax.conv_general_dilated, PyTorch's layout (channels first) and conventions."""
    d = x.ndim - 2
    layout = ("NC" + "HW"[2 - d :], "OI" + "HW"[2 - d :], "NC" + "HW"[2 - d :])
    return jax.lax.conv_general_dilated(
        x,
        W,
        tuple(stride),
        tuple(tuple(p) for p in padding),
        rhs_dilation=tuple(dilation),
        dimension_numbers=layout,
        feature_group_count=groups,
        precision=jax.lax.Precision.HIGHEST,
    )


def conv1d(x, W, kernel, stride, padding, dilation, groups):
    """graphc's conv1d: one lax.conv_general_dilated."""
    return _conv(x, W, stride, padding, dilation, groups)


def conv2d(x, W, kernel, stride, padding, dilation, groups):
    """graphc's conv2d: one lax.conv_general_dilated."""
    return _conv(x, W, stride, padding, dilation, groups)


def conv_vjp_x(g, W, kernel, stride, padding, dilation, groups, size):
    """A convolution's vjp for its input: the transpose of the convolution by W (XLA runs
    it as a convolution of g, dilated by the stride, by the flipped weights)."""
    shape = (g.shape[0], W.shape[1] * groups, *size)
    (out,) = jax.linear_transpose(
        lambda x: _conv(x, W, stride, padding, dilation, groups),
        jax.ShapeDtypeStruct(shape, g.dtype),
    )(g)
    return out


def conv_vjp_w(x, g, kernel, stride, padding, dilation, groups):
    """A convolution's vjp for its weights: the transpose of the convolution of x (a
    convolution of x by g, batch and channels swapped)."""
    shape = (g.shape[1], x.shape[1] // groups, *kernel)
    (out,) = jax.linear_transpose(
        lambda w: _conv(x, w, stride, padding, dilation, groups),
        jax.ShapeDtypeStruct(shape, g.dtype),
    )(g)
    return out


def _window_reduce(x, init, combine, kernel, stride, padding):
    return jax.lax.reduce_window(
        x,
        jnp.asarray(init, x.dtype),
        combine,
        (1, 1, *kernel),
        (1, 1, *stride),
        ((0, 0), (0, 0), *(tuple(p) for p in padding)),
    )


def window_max(x, kernel, stride, padding):
    """The largest entry of each window of x (padded with -inf): lax.reduce_window."""
    return _window_reduce(x, -jnp.inf, jax.lax.max, kernel, stride, padding)


def window_mean(x, kernel, stride, padding):
    """The mean of each window of x (padded with 0, which counts)."""
    total = _window_reduce(x, 0, jax.lax.add, kernel, stride, padding)
    return total / jnp.asarray(float(np.prod(kernel)), x.dtype)


def _first_max(x, kernel, stride, padding):
    """The offset (row-major) of each window's first maximum, as PyTorch picks it: an entry
    wins when it is larger than the best so far, or NaN (XLA's own select-and-gather may
    pick any of equal entries)."""
    taps = _taps(x, kernel, stride, padding, (1,) * len(kernel), -jnp.inf)
    best, index = taps[0], jnp.zeros(taps[0].shape, jnp.int32)
    for k, tap in enumerate(taps[1:], 1):
        wins = (tap > best) | jnp.isnan(tap)
        best, index = jnp.where(wins, tap, best), jnp.where(wins, k, index)
    return index


def window_max_jvp(x, t, kernel, stride, padding):
    """t at each window's first maximum of x: max pooling's tangent."""
    index = _first_max(x, kernel, stride, padding)
    taps = _taps(t, kernel, stride, padding, (1,) * len(kernel), 0.0)
    out = taps[0]
    for k, tap in enumerate(taps[1:], 1):
        out = jnp.where(index == k, tap, out)
    return out


def window_max_vjp(x, g, kernel, stride, padding):
    """Each window's g added at its first maximum of x: the transpose of window_max_jvp."""
    (out,) = jax.linear_transpose(
        lambda t: window_max_jvp(x, t, kernel, stride, padding),
        jax.ShapeDtypeStruct(x.shape, g.dtype),
    )(g)
    return out


def data_mesh(devices=None):
    """A one-axis mesh named "batch" over `devices`: None for every device JAX sees, an int
    for the first that many, or a list of devices."""
    found = jax.devices()
    if devices is None:
        devices = found
    elif isinstance(devices, int):
        if not 1 <= devices <= len(found):
            raise ValueError(
                f"devices={devices}: JAX sees {len(found)} {found[0].platform} device(s)"
            )
        devices = found[:devices]
    return Mesh(np.array(list(devices)), ("batch",))


def place(mesh, tree, split):
    """`tree` on the mesh: split along its first axis over the devices, or replicated."""
    spec = PartitionSpec("batch") if split else PartitionSpec()
    return jax.device_put(tree, NamedSharding(mesh, spec))


def fit_model(
    model,
    params,
    state,
    data,
    epochs,
    batch_size,
    lr=None,
    validation=None,
    seed=0,
    verbose=True,
    dropout=None,
    devices=None,
):
    """Train data-parallel on `devices`; (params, state, per-epoch history). The arrays
    passed in are donated to the first step: use the returned ones."""
    train = as_batch(model, data)
    validation = check_fit(model, train, epochs, batch_size, lr, validation)
    mesh = data_mesh(devices)
    params, state = place(mesh, params, False), place(mesh, state, False)
    rng = np.random.default_rng(seed)
    history = {"epoch": [], "loss": []}
    for epoch in range(1, epochs + 1):
        started, losses = time.perf_counter(), []
        for batch in minibatches(train, batch_size, rng):
            size = len(next(iter(batch.values())))
            # a last batch that does not split evenly runs replicated on every device
            batch = place(mesh, batch, size % mesh.size == 0)
            params, state, loss = model["train_step"](params, state, batch, lr, dropout)
            if losses:  # the host stays one step ahead (see Pacing above)
                losses[-1][0].block_until_ready()
            losses.append((loss, size))
        history["epoch"].append(epoch)
        history["loss"].append(
            sum(float(loss) * size for loss, size in losses) / sum(size for _, size in losses)
        )
        if not end_epoch(
            model, params, state, train, validation, history, epochs, started, verbose
        ):
            break
    return params, state, history


def run_command_line(model, argv=None):
    """The command line's work (see `main`): the NumPy module's options plus --devices."""
    parser = command_line(model, "JAX")
    parser.add_argument(
        "--devices", type=int, help="train data-parallel on this many devices (default: all)"
    )
    args = parser.parse_args(argv)
    check_arguments(args, model)
    found = jax.devices()
    if args.devices is not None and not 1 <= args.devices <= len(found):
        parser.error(
            f"--devices {args.devices}: JAX sees {len(found)} {found[0].platform} device(s)"
        )
    train, validation, test = load_splits(model, args.data, args.val_split, args.seed)
    params, state = model["init_params"](args.seed), model["init_state"](args.seed)
    params, state, history = fit_model(
        model,
        params,
        state,
        train,
        args.epochs,
        args.batch_size,
        args.lr,
        validation,
        args.seed,
        verbose=not args.quiet,
        devices=args.devices,
    )
    return finish_run(model, args, params, state, history, test)
