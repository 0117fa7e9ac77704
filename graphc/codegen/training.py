"""The training loop every exported module carries (its source is copied into the file).

NumPy and the standard library only. The functions take the exported module's namespace
(`model`, a dict) so the same code serves every generated network: they call its
`train_step`, `evaluate_batch` and `init_*` functions and read `INPUTS`, `HYPER`, `CLASSES`
and `MIN_BATCH`. The checks on the data and the run are graphc's own (checks.py, copied
into the module with errors.py), so the module refuses what gc.evaluate and the trainer
refuse, in the same words.
"""

import argparse
import base64
import json
import math
import os
import sys
import time
import zlib

import numpy as np

from ..checks import as_array, check_class_ids, check_min_batch, check_minibatches, check_run
from ..files import write_file


def count_hits(predictions, target):
    """Correct predictions in a batch: argmax against class ids or one-hot rows, or the sign
    of a single logit against 0/1 targets; None when the task is not classification."""
    predictions, target = np.asarray(predictions), np.asarray(target)
    if predictions.ndim == 2 and predictions.shape[1] > 1:
        guess = np.argmax(predictions, axis=1)
        if target.ndim == 1 and target.dtype.kind in "iub":
            return int(np.sum(guess == target))
        if target.shape == predictions.shape:
            return int(np.sum(guess == np.argmax(target, axis=1)))
        return None
    if predictions.size == target.size and np.all((target == 0) | (target == 1)):
        return int(np.sum((predictions.reshape(-1) > 0) == (target.reshape(-1) > 0.5)))
    return None


def minibatches(data, batch_size, rng=None):
    """Yield dicts of aligned slices of `data` (shuffled when a generator is given)."""
    n = len(next(iter(data.values())))
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield {name: array[index] for name, array in data.items()}


def as_batch(model, data):
    """`data` with every model input present, checked (see `checked_input`) and cast to its
    dtype (arrays share memory); a ValueError names what is wrong."""
    batch = {}
    classes = model.get("CLASSES", {})
    for name, (shape, dtype) in model["INPUTS"].items():
        if name not in data:
            raise ValueError(
                f"the data has no array {name!r}; the model's inputs are "
                f"{', '.join(model['INPUTS'])}"
            )
        batch[name] = checked_input(name, data[name], shape, dtype, classes.get(name))
    lengths = {name: len(a) for name, a in batch.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the arrays of one data set differ in length: {lengths}")
    if batch and not any(lengths.values()):
        raise ValueError("the data set has no rows")
    return batch


def checked_input(name, value, shape, dtype, classes=None):
    """`value` as a contiguous array of `dtype`, refusing what would give a wrong number
    silently: what the cast would change (checks.as_array: text, complex, masked arrays,
    fractions for ids, overflow), a shape that does not fit (-1 is the batch), out-of-range
    class ids, NaN or infinity."""
    array = as_array(value, dtype, repr(name))
    if array.ndim != len(shape) or any(d not in (-1, n) for d, n in zip(shape, array.shape)):
        wanted = str(tuple("N" if d == -1 else d for d in shape)).replace("'", "")
        raise ValueError(f"{name!r} has shape {array.shape}; the model takes {wanted}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        row = np.argwhere(~np.isfinite(array))[0][0] if array.ndim else 0
        raise ValueError(f"{name!r} holds NaN or infinity (row {row}); clean the data first")
    if classes is not None:
        check_class_ids(array, classes, repr(name))
    return np.ascontiguousarray(array)


def training_batch(model, data, what):
    """`data` checked as `as_batch` checks it, and holding the rows the model's ops need in
    training mode (batch norm's 2): one row would give zero gradients without a word."""
    batch = as_batch(model, data)
    check_min_batch(len(next(iter(batch.values()), ())), model.get("MIN_BATCH"), what)
    return batch


def check_fit(model, train, epochs, batch_size, lr, validation=None):
    """Refuse a run fit cannot make as asked: epochs and a batch size that are not positive
    ints, a learning rate that is not a positive number, minibatches smaller than the
    model's ops need in training mode (batch norm's 2 rows, also in the last one), and
    validation data that does not fit (found before the first epoch, not after it).
    Returns the validation data checked (None without)."""
    check_run(epochs, batch_size, lr)
    rows = len(next(iter(train.values()), ()))
    check_minibatches(rows, batch_size, model.get("MIN_BATCH"), "fit")
    return None if validation is None else as_batch(model, validation)


def evaluate_data(model, params, state, data, batch_size=1024):
    """Mean loss and accuracy (None without labels) of the model on `data`, inference mode."""
    total, correct, count = 0.0, 0, 0
    for batch in minibatches(as_batch(model, data), batch_size):
        loss, hits = model["evaluate_batch"](params, state, batch)
        size = len(next(iter(batch.values())))
        total += loss * size
        correct = None if hits is None else correct + hits
        count += size
    return total / count, None if correct is None else correct / count


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
):
    """Train in place with shuffled minibatches; the per-epoch history of loss and accuracy."""
    train = as_batch(model, data)
    validation = check_fit(model, train, epochs, batch_size, lr, validation)
    rates = dict(model["DROPOUT_RATES"])
    if dropout is not None:
        model["DROPOUT_RATES"].update({name: float(dropout) for name in rates})
    rng = np.random.default_rng(seed)
    history = {"epoch": [], "loss": []}
    try:
        for epoch in range(1, epochs + 1):
            started, total, count = time.perf_counter(), 0.0, 0
            for batch in minibatches(train, batch_size, rng):
                size = len(next(iter(batch.values())))
                total += model["train_step"](params, state, batch, lr) * size
                count += size
            history["epoch"].append(epoch)
            history["loss"].append(total / count)
            going = end_epoch(
                model, params, state, train, validation, history, epochs, started, verbose
            )
            if not going:
                break
    finally:
        model["DROPOUT_RATES"].update(rates)
    return history


def end_epoch(model, params, state, train, validation, history, epochs, started, verbose=True):
    """Record the epoch's accuracy and validation figures, print its line; False when the
    loss is no longer finite and training should stop."""
    _, accuracy = evaluate_data(model, params, state, train)
    if accuracy is not None:
        history.setdefault("accuracy", []).append(accuracy)
    if validation is not None:
        val_loss, val_accuracy = evaluate_data(model, params, state, validation)
        history.setdefault("val_loss", []).append(val_loss)
        if val_accuracy is not None:
            history.setdefault("val_accuracy", []).append(val_accuracy)
    if verbose:
        print(progress_line(history, epochs, time.perf_counter() - started), flush=True)
    if np.isfinite(history["loss"][-1]):
        return True
    if verbose:
        print("stopping: the loss is not finite (try a smaller learning rate)", file=sys.stderr)
    return False


def progress_line(history, epochs, seconds):
    """One line for the latest epoch: loss, accuracy and validation figures, time."""
    parts = [f"epoch {history['epoch'][-1]:>3}/{epochs}", f"loss {history['loss'][-1]:.4f}"]
    if "accuracy" in history:
        parts.append(f"accuracy {history['accuracy'][-1]:.2%}")
    if "val_loss" in history:
        parts.append(f"val_loss {history['val_loss'][-1]:.4f}")
    if "val_accuracy" in history:
        parts.append(f"val_accuracy {history['val_accuracy'][-1]:.2%}")
    return "  ".join(parts) + f"  ({seconds:.2f} s)"


def split_off(data, fraction, seed):
    """(train, validation): a seeded random `fraction` of the rows held out."""
    n = len(next(iter(data.values())))
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1.0 - fraction)))
    pick = {name: np.asarray(a) for name, a in data.items()}
    return (
        {k: a[order[:cut]] for k, a in pick.items()},
        {k: a[order[cut:]] for k, a in pick.items()},
    )


def load_splits(model, path, val_split, seed):
    """Train/validation/test dicts from an .npz file: arrays named like the inputs, with
    optional `<name>_val` and `<name>_test` arrays (else `val_split` of train is held out)."""
    if not os.path.isfile(path):
        raise SystemExit(f"error: {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception:  # a text file, an empty or truncated one, a pickle: never executed
        raise SystemExit(
            f"error: {path}: not an .npz file of arrays (np.savez writes one)"
        ) from None
    names = list(model["INPUTS"])
    missing = [n for n in names if n not in arrays]
    if missing:
        raise SystemExit(
            f"error: {path}: no array named {', '.join(map(repr, missing))}; the model "
            f"needs {', '.join(names)} (found {', '.join(arrays) or 'none'})"
        )
    train = {n: arrays[n] for n in names}
    as_batch(model, train)  # checked whole before any split: lengths, shapes, class ids
    validation = test = None
    for suffix in ("_val", "_test"):  # a split given in part would be ignored
        given = [n for n in names if n + suffix in arrays]
        if given and len(given) < len(names):
            absent = ", ".join(n + suffix for n in names if n + suffix not in arrays)
            raise SystemExit(
                f"error: {path}: has {', '.join(n + suffix for n in given)} but no {absent}; "
                f"give every input's {suffix} array, or none"
            )
    if all(f"{n}_val" in arrays for n in names):
        validation = {n: arrays[f"{n}_val"] for n in names}
    elif val_split > 0:
        train, validation = split_off(train, val_split, seed)
        if not len(next(iter(validation.values()), ())):
            raise SystemExit(
                f"error: --val-split {val_split} of {len(next(iter(train.values())))} rows "
                "holds out no row; give more data, a larger --val-split, or --val-split 0"
            )
    if all(f"{n}_test" in arrays for n in names):
        test = {n: arrays[f"{n}_test"] for n in names}
    return train, validation, test


def main(model, argv=None):
    """Command line: train on an .npz file, print a line per epoch, save params/history;
    every failure ends in one line on stderr and a non-zero exit status. The work is the
    module's `run_command_line` (this file's, or the JAX runtime's)."""
    try:
        return model["run_command_line"](model, argv)
    except OSError as error:  # a file that cannot be read or written (write_file names it)
        raise SystemExit(f"error: {error.strerror or error}") from None
    except ValueError as error:  # the data does not fit the model (as_batch says how)
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def check_arguments(args, model):
    """Refuse, before any work, a flag out of its range or an output that cannot be written."""
    problems = [
        (args.epochs < 1, f"--epochs must be at least 1, got {args.epochs}"),
        (args.batch_size < 1, f"--batch-size must be at least 1, got {args.batch_size}"),
        (not (math.isfinite(args.lr) and args.lr > 0), f"--lr must be positive, got {args.lr}"),
        (not 0 <= args.val_split < 1, f"--val-split must be in [0, 1), got {args.val_split}"),
        (args.seed < 0, f"--seed must be a non-negative int, got {args.seed}"),
    ]
    for flag in ("save", "history", "onnx"):
        path = getattr(args, flag)
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        problems.append((not os.path.isdir(folder), f"--{flag} {path}: no folder {folder}"))
        same = os.path.abspath(path) == os.path.abspath(args.data)
        problems.append((same, f"--{flag} {path} would overwrite the data file"))
    why = model["ONNX_MODEL"].get("why")
    problems.append((args.onnx and why, f"--onnx: this script has no ONNX form: {why}"))
    for wrong, message in problems:
        if wrong:
            raise SystemExit(f"error: {message}")


def command_line(model, engine="NumPy"):
    """The training script's argument parser (data file, epochs, batch size, lr, ...)."""
    hyper = model["HYPER"]
    parser = argparse.ArgumentParser(
        description=f"Train the model {model['MODEL_NAME']!r} with {hyper['optimizer']} and "
        f"{engine} (code generated by graphc.export)."
    )
    parser.add_argument(
        "data",
        help="an .npz file with arrays named like the model inputs "
        f"({', '.join(model['INPUTS'])}); optional <name>_val and "
        "<name>_test arrays",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=hyper["epochs"],
        help=f"passes over the training data (default: {hyper['epochs']})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=hyper["batch_size"],
        help=f"rows per optimizer step (default: {hyper['batch_size']})",
    )
    parser.add_argument(
        "--lr", type=float, default=hyper["lr"], help=f"learning rate (default: {hyper['lr']})"
    )
    parser.add_argument("--seed", type=int, default=0, help="init and shuffling seed")
    parser.add_argument(
        "--val-split",
        type=float,
        default=0.1,
        help="fraction held out for validation when the file has none",
    )
    parser.add_argument("--save", help="write the trained params (and state) to this .npz")
    parser.add_argument("--history", help="write the per-epoch history to this .json")
    parser.add_argument(
        "--onnx", help="write the trained model's predictions as ONNX (needs the onnx package)"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return parser


def run_command_line(model, argv=None):
    """The command line's work (see `main`)."""
    args = command_line(model).parse_args(argv)
    check_arguments(args, model)
    train, validation, test = load_splits(model, args.data, args.val_split, args.seed)
    params, state = model["init_params"](args.seed), model["init_state"](args.seed)
    with np.errstate(all="ignore"):  # a diverging run is reported below, in one line
        history = fit_model(
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
        )
    return finish_run(model, args, params, state, history, test)


def finish_run(model, args, params, state, history, test):
    """After training: the test figures, and the params and history files asked for (none
    after a diverged run, which exits non-zero)."""
    if not np.isfinite(history["loss"][-1]):
        raise SystemExit(
            f"error: training diverged at epoch {history['epoch'][-1]} (the loss is "
            f"{history['loss'][-1]}); the params are not saved; try a smaller --lr"
        )
    if test is not None:
        test_loss, test_accuracy = evaluate_data(model, params, state, test)
        accuracy = "" if test_accuracy is None else f"  test_accuracy {test_accuracy:.2%}"
        print(f"test_loss {test_loss:.4f}{accuracy}")
        history["test_loss"], history["test_accuracy"] = test_loss, test_accuracy
    if args.save:
        arrays = {**params, **state["stats"]}
        write_file(args.save, lambda f: np.savez(f, **arrays), binary=True)
    if args.history:
        write_file(args.history, lambda f: json.dump(history, f, indent=1))
    if args.onnx:
        write_onnx(model, args.onnx, {**params, **state["stats"]})
    return history


def write_onnx(model, path, arrays):
    """The model's ONNX form (ONNX_MODEL) with these arrays as its weights, written to path."""
    table = model["ONNX_MODEL"]
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise SystemExit("error: --onnx needs the onnx package: pip install onnx") from None
    proto = onnx.ModelProto.FromString(zlib.decompress(base64.b64decode("".join(table["graph"]))))
    for name in table["weights"]:
        proto.graph.initializer.append(numpy_helper.from_array(np.asarray(arrays[name]), name))
    write_file(path, lambda f: f.write(proto.SerializeToString()), binary=True)
    print(f"wrote {path} (ONNX)")
