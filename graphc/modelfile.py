"""Loading a model: a Python file defining `model()` (and optionally `data()`), or a graph
saved as JSON by `gc.save`.

A model file is the user's own code, so importing it is expected; what this module adds is
that every way it can go wrong ends in one `ModelFileError` line that names the file (and
the line, when the user's code raised), never a traceback.

    def model():            # required: returns the scalar loss node
        ...
    def data():             # optional: {input name: array} (the training set), or
        ...                 # {"train": {...}, "validation": {...}, "test": {...}}
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from .errors import GraphError, LoadError
from .evaluation import init_params
from .feeds import check_class_ids, class_counts
from .files import write_file
from .ir import Node, leaves, topological_order
from .serialize import load

SPLITS = ("train", "validation", "test")
_module_ids = itertools.count()


class ModelFileError(LoadError):
    """A model file or saved graph that cannot be turned into a loss node (one line)."""


@dataclass
class Model:
    """A loaded model: its scalar loss, where it came from, and its data splits (if any)."""

    loss: Node
    source: str
    data: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    outputs: list[Node] = field(default_factory=list)  # every saved/returned node, loss first

    @property
    def name(self) -> str:
        """The file name without folder and extension (used for default output names)."""
        return os.path.splitext(os.path.basename(self.source))[0]


def _user_line(error: BaseException, path: str) -> str:
    """'file:line' of the innermost traceback frame inside the user's file, else the file."""
    where = path
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            where = f"{path}:{frame.lineno}"
    return where


def _describe(error: BaseException, path: str) -> str:
    if isinstance(error, SyntaxError):
        return f"{path}:{error.lineno}: syntax error: {error.msg}"
    if isinstance(error, SystemExit):  # a script's main() run on import, argparse, exit()
        return (
            f"{_user_line(error, path)}: the file exits (SystemExit {error.code!r}); keep "
            'script code under `if __name__ == "__main__":`'
        )
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{_user_line(error, path)}: {type(error).__name__}: {message}".rstrip(": ")


def _in_file(path: str, error: GraphError, context: str = "") -> str:
    """A graph error raised by the user's file, located once: as it is when it already
    starts at a line of the file (graph construction names the user's line), else after
    the file's name (and `context`)."""
    message = str(error)
    site = os.path.abspath(path) + ":"
    if message.startswith(site):
        line, _, rest = message[len(site) :].partition(": ")
        return f"{path}:{line}: {context}{rest}"
    return f"{path}: {context}{message}"


def _call(module: ModuleType, name: str, path: str) -> Any:
    """Call the user's `name()`, turning anything it raises into one ModelFileError line."""
    try:
        return getattr(module, name)()
    except GraphError as error:
        raise ModelFileError(_in_file(path, error, f"{name}(): ")) from None
    except (Exception, SystemExit) as error:  # the user's code may raise anything
        raise ModelFileError(f"{name}() failed: {_describe(error, path)}") from None


def import_model_file(path: str) -> ModuleType:
    """Import the Python file at `path` as a fresh module (its folder is importable)."""
    if os.path.isdir(path):
        raise ModelFileError(
            f"{path}: is a folder; give a model file (.py) or a saved graph (.json)"
        )
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such file")
    module_name = f"graphc_model_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelFileError(
            f"{path}: not a Python file (a model file ends in .py, a saved graph in .json)"
        )
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # lets a model file import its neighbours
    try:
        spec.loader.exec_module(module)
    except GraphError as error:
        raise ModelFileError(_in_file(path, error)) from None
    except (Exception, SystemExit) as error:
        raise ModelFileError(f"cannot import the model file: {_describe(error, path)}") from None
    finally:
        sys.path.remove(folder)
    return module


def _check_loss(value: Any, source: str, what: str) -> list[Node]:
    """The returned node(s) as a list whose first entry is a scalar float loss node."""
    nodes = list(value) if isinstance(value, (list, tuple)) else [value]
    if not nodes or not all(isinstance(n, Node) for n in nodes):
        got = (
            type(value).__name__
            if not isinstance(value, (list, tuple))
            else "a sequence holding " + ", ".join(sorted({type(n).__name__ for n in nodes}))
        )
        raise ModelFileError(
            f"{source}: {what} must return the loss node (a graphc node), got {got or 'nothing'}"
        )
    loss = nodes[0]
    if loss.shape != ():
        raise ModelFileError(
            f"{source}: {what} must return a scalar loss, got a node of shape "
            f"{loss.shape} ({loss.op}, made at {loss.site}); reduce it with "
            "gc.mean or gc.sum"
        )
    if not loss.dtype.startswith("float"):
        raise ModelFileError(f"{source}: {what} must return a float loss, got {loss.dtype}")
    return nodes


def _as_array(value: Any, source: str, where: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as error:
        raise ModelFileError(f"{source}: data(): {where} is not an array ({error})") from None
    if array.dtype == object or array.ndim == 0:
        raise ModelFileError(f"{source}: data(): {where} is not a numeric array")
    return array


def _check_shape(array: np.ndarray, node: Node, source: str, where: str) -> None:
    """Refuse an array that does not fit its input leaf (None in the leaf's shape is free)."""
    fits = array.ndim == len(node.shape) and all(
        d is None or d == n for d, n in zip(node.shape, array.shape)
    )
    if not fits:
        declared = "(" + ", ".join("N" if d is None else str(d) for d in node.shape) + ")"
        raise ModelFileError(
            f"{source}: {where} has shape {array.shape}, but the input "
            f"{node.name!r} is {declared} (declared at {node.site})"
        )
    if node.dtype.startswith("int") and not np.issubdtype(array.dtype, np.integer):
        raise ModelFileError(
            f"{source}: {where} holds {array.dtype} values, but the input "
            f"{node.name!r} takes integer class ids ({node.dtype})"
        )


def check_data(raw: Any, loss: Node, source: str) -> dict[str, dict[str, np.ndarray]]:
    """Normalize data() to {split: {input name: array}} and check it against the inputs."""
    if not isinstance(raw, dict) or not raw:
        raise ModelFileError(
            f"{source}: data() must return a dict of input name -> array "
            f"(or of 'train'/'validation'/'test' -> such dicts), got "
            f"{type(raw).__name__}"
        )
    if all(isinstance(v, dict) for v in raw.values()):
        unknown = sorted(set(raw) - set(SPLITS))
        if unknown:
            raise ModelFileError(
                f"{source}: data(): unknown split {unknown[0]!r}; use {', '.join(SPLITS)}"
            )
        if "train" not in raw:
            raise ModelFileError(f"{source}: data() has no 'train' split")
        splits = raw
    else:
        splits = {"train": raw}
    wanted = {node.name: node for node in leaves(loss, "input")}
    classes = class_counts(loss)
    result: dict[str, dict[str, np.ndarray]] = {}
    for split_name, part in splits.items():
        arrays = {str(k): _as_array(v, source, f"{split_name}[{k!r}]") for k, v in part.items()}
        missing = sorted(set(wanted) - set(arrays))
        if missing:
            raise ModelFileError(
                f"{source}: data()[{split_name!r}] has no array for input "
                f"{missing[0]!r} (the model's inputs: {', '.join(wanted)})"
            )
        lengths = {name: len(arrays[name]) for name in wanted}
        if len(set(lengths.values())) > 1:
            raise ModelFileError(
                f"{source}: data()[{split_name!r}]: inputs have different "
                f"numbers of rows: {lengths}"
            )
        if wanted and not any(lengths.values()):
            raise ModelFileError(f"{source}: data()[{split_name!r}] has no rows")
        for name, node in wanted.items():
            where = f"data()[{split_name!r}][{name!r}]"
            _check_shape(arrays[name], node, source, where)
            if arrays[name].dtype.kind == "c" or (
                node.dtype.startswith("float") and arrays[name].dtype.kind not in "fiub"
            ):
                raise ModelFileError(
                    f"{source}: {where} holds {arrays[name].dtype} values; the input "
                    f"{name!r} takes {node.dtype} numbers"
                )
            if name in classes:
                try:
                    check_class_ids(arrays[name], classes[name], where)
                except GraphError as error:
                    raise ModelFileError(f"{source}: {error}") from None
        result[split_name] = {name: arrays[name] for name in wanted}
    return result


def load_model(path: str | os.PathLike, with_data: bool = True) -> Model:
    """Load a model file (.py with `model()`) or a saved graph (.json); errors are one line."""
    path = os.fspath(path)
    if path.endswith(".json"):
        if not os.path.isfile(path):
            raise ModelFileError(f"{path}: no such file")
        try:
            outputs = load(path)
        except GraphError as error:
            raise ModelFileError(f"bad graph: {error}") from None
        return Model(
            _check_loss(outputs, path, "the saved graph's first output")[0],
            path,
            outputs=list(outputs),
        )
    module = import_model_file(path)
    if not callable(getattr(module, "model", None)):
        raise ModelFileError(
            f"{path}: defines no model() function (a model file defines "
            "model() returning the loss node, and optionally data())"
        )
    outputs = _check_loss(_call(module, "model", path), path, "model()")
    data = {}
    if with_data and callable(getattr(module, "data", None)):
        data = check_data(_call(module, "data", path), outputs[0], path)
    return Model(outputs[0], path, data, outputs)


def example_values(model: Model, batch: int = 4, seed: int = 0) -> tuple[dict, str]:
    """Initial params plus `batch` rows for every input, and where the rows came from: the
    model's training data when it has some, else seeded random numbers (0/1 for integers)."""
    if not isinstance(batch, int) or batch < 1:
        raise ModelFileError(f"the batch size must be a positive int, got {batch!r}")
    _check_memory(model.outputs, batch)
    values: dict[str, Any] = init_params(model.outputs, seed=seed)
    if model.data:
        rows = {k: v[:batch] for k, v in model.data["train"].items()}
        values.update(rows)
        count = min((len(v) for v in rows.values()), default=batch)
        return values, f"the first {count} training rows"
    rng = np.random.default_rng(seed)
    for node in leaves(model.outputs, "input"):
        shape = tuple(batch if d is None else d for d in node.shape)
        if node.dtype.startswith("float"):
            values[node.name] = rng.normal(size=shape).astype(node.dtype)
        elif node.dtype == "bool":
            values[node.name] = rng.random(shape) > 0.5
        else:  # class ids: 0 and 1 are valid for any number of classes
            values[node.name] = rng.integers(0, 2, shape).astype(node.dtype)
    return values, f"{batch} random rows (the model has no data())"


MAX_BYTES = 4 * 2**30  # what a small batch of values and gradients may take


def _check_memory(outputs: list[Node], batch: int) -> None:
    """Refuse, before allocating, a batch whose values (every node's array, once) would
    take more than MAX_BYTES."""
    total = 0
    for node in topological_order(outputs):
        size = 1
        for d in node.shape:
            size *= batch if d is None else d
        total += size * np.dtype(node.dtype).itemsize
    if total > MAX_BYTES:
        raise ModelFileError(
            f"a batch of {batch:,} rows needs about {total / 2**30:,.1f} GiB for the values "
            f"alone (the limit is {MAX_BYTES / 2**30:.0f} GiB); use a smaller --batch"
        )


NPZ_SUFFIX = {"train": "", "validation": "_val", "test": "_test"}


def save_npz(data: dict[str, dict[str, np.ndarray]], path: str | os.PathLike) -> str:
    """Write data splits as one .npz the exported script reads (x, y, x_val, y_test, ...)."""
    arrays = {
        name + NPZ_SUFFIX[split]: array
        for split, part in data.items()
        for name, array in part.items()
    }
    # np.savez given a file object writes exactly there (a path would get .npz appended)
    return write_file(path, lambda f: np.savez(f, **arrays), binary=True)


def load_npz(path: str | os.PathLike, loss: Node) -> dict[str, dict[str, np.ndarray]]:
    """Data splits from an .npz with arrays named like the model's inputs (optionally also
    `<name>_val` and `<name>_test`), checked against the inputs."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError):
        raise ModelFileError(f"{path}: not an .npz file of arrays (np.savez writes one)") from None
    names = [node.name for node in leaves(loss, "input")]
    splits = {
        split: {n: arrays[n + suffix] for n in names if n + suffix in arrays}
        for split, suffix in NPZ_SUFFIX.items()
    }
    splits = {k: v for k, v in splits.items() if v or k == "train"}
    if not splits["train"]:
        raise ModelFileError(
            f"{path}: no array named like the model's inputs "
            f"({', '.join(names)}); found {', '.join(arrays) or 'none'}"
        )
    return check_data(splits, loss, path)
