"""gc.from_onnx: an ONNX model read as graphc nodes.

Reading never runs anything: the file is parsed as protobuf, checked (ONNX's checker,
the opset, external data kept inside the model's folder, names, declared shapes against
the initializers), and each node needed by the outputs is rebuilt through the table of
ops.py with graphc's own builders, so every graphc check (shapes, dtypes) applies. Graph
inputs become `gc.input` (a symbolic dimension is the batch dimension, None), float
initializers become `gc.param` with the model's values (trainable) unless the model's
metadata ("graphc.frozen") or `frozen=` names them, other initializers and Constant nodes
become `gc.const`. Every graphc node made for an ONNX node is sited at it
("model.onnx: node 3 (Gemm '/fc1/Gemm')"), and the node giving an ONNX value is named
after that value.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import GraphError
from ..ir import Node, site_as
from ..ops.composite import COMPOSITE_ARGUMENTS
from ..ops.leaves import const, input, param
from ..ops.registry import FLOAT_DTYPES, apply
from .errors import NeedsConstant, OnnxError, require_onnx
from .export import FROZEN_KEY
from .ops import TABLE, Read, typed
from .tensors import dtype_of, tensor_array

MIN_OPSET = 7  # before 7, broadcasting was an attribute of each arithmetic op


def from_onnx(model, *, outputs=None, frozen=(), constants=None) -> list[Node]:
    """The graph outputs of an ONNX model (a path or a ModelProto) as graphc nodes.

    `outputs` picks graph outputs by name (default: all of them); only the nodes they need
    are read, so an output that needs an op graphc lacks can be left out. `frozen` names
    float initializers to import as constants rather than trainable params. `constants`
    gives graph inputs fixed values (by name): graphc's shapes are static, so a shape or
    axes that a model takes as an input must be given this way (NeedsConstant says which).
    """
    proto, source = _load(model)
    return _Reader(proto, source, frozen, constants or {}).outputs(outputs)


def _load(model):
    """(ModelProto, its name for messages), external data loaded from inside its folder."""
    onnx = require_onnx()
    if isinstance(model, onnx.ModelProto):
        proto, source, folder = model, "<onnx model>", None
    elif isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        if not os.path.isfile(source):
            raise OnnxError(f"{source}: no such file")
        with open(source, "rb") as f:
            data = f.read()
        try:
            proto = onnx.ModelProto.FromString(data)
        except Exception:
            raise OnnxError(
                f"{source}: not an ONNX model (the file is truncated or corrupted, or another "
                "format)"
            ) from None
        folder = os.path.dirname(os.path.abspath(source))
    else:
        raise OnnxError(f"gc.from_onnx takes a path or an onnx.ModelProto, got {model!r}")
    if not proto.HasField("graph") or not (proto.graph.node or proto.graph.output):
        raise OnnxError(f"{source}: not an ONNX model (it holds no graph; truncated?)")
    _opset(proto, source)
    _external_data(proto, source, folder)
    try:
        onnx.checker.check_model(proto)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OnnxError(f"{source}: not a valid ONNX model: {first}") from None
    return proto, source


def _opset(proto, source: str) -> int:
    """The standard opset the model imports, if graphc reads it."""
    versions = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    if "ai.onnx" not in versions:
        raise OnnxError(f"{source}: it imports no version of the standard ONNX opset")
    opset, newest = versions["ai.onnx"], require_onnx().defs.onnx_opset_version()
    if opset < MIN_OPSET:
        raise OnnxError(
            f"{source}: opset {opset} is too old; graphc reads opsets {MIN_OPSET} to "
            f"{newest} (onnx.version_converter can upgrade the model)"
        )
    if opset > newest:
        raise OnnxError(
            f"{source}: opset {opset} is too new; graphc reads opsets {MIN_OPSET} to "
            f"{newest} (the newest the installed onnx package knows)"
        )
    return opset


def _external_data(proto, source: str, folder: str | None) -> None:
    """Load tensors stored in separate files, refusing any location outside `folder`."""
    from onnx.external_data_helper import _get_all_tensors, load_external_data_for_model

    external = [t for t in _get_all_tensors(proto) if t.data_location == 1]  # EXTERNAL
    if not external:
        return
    if folder is None:
        raise OnnxError(
            f"{source}: its tensors keep their data in separate files; give the model's path"
        )
    for tensor in external:
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        # symbolic links resolved: a link beside the model may not lead out of its folder
        path = os.path.realpath(os.path.join(folder, location))
        inside = not os.path.isabs(location) and path.startswith(os.path.realpath(folder) + os.sep)
        if not location or not inside:
            raise OnnxError(
                f"{source}: tensor {tensor.name!r} keeps its data at {location!r}, outside "
                "the model's folder; graphc reads nothing outside the paths it is given"
            )
        if not os.path.isfile(path):
            raise OnnxError(
                f"{source}: tensor {tensor.name!r} keeps its data in {location!r}, which "
                f"does not exist beside the model"
            )
    try:
        load_external_data_for_model(proto, folder)
    except Exception as error:
        raise OnnxError(f"{source}: cannot read its external data: {error}") from None


def _check_name(name: str, source: str, what: str) -> str:
    bad = next((c for c in name if c == "\\" or not c.isprintable()), None)
    if not name or bad is not None:
        why = "is empty" if not name else f"holds {bad!r}"
        raise OnnxError(
            f"{source}: {what} {name!r} {why}; graphc names (and the identifiers of generated "
            "code) need printable characters without backslashes"
        )
    return name


class _Reader:
    """Rebuilds the nodes an ONNX graph's outputs need, in the graph's order."""

    def __init__(self, proto, source: str, frozen, constants):
        onnx = require_onnx()
        self.onnx, self.proto, self.source = onnx, proto, source
        self.graph = proto.graph
        self.opset = _opset(proto, source)
        self.initializers = {t.name: t for t in self.graph.initializer}
        marked = dict((p.key, p.value) for p in proto.metadata_props).get(FROZEN_KEY, "")
        self.frozen = set(frozen) | {n for n in marked.split(",") if n}
        self.values: dict[str, Node] = {}
        self.statics: dict[str, np.ndarray] = {}
        self.constants = constants
        self.declared = {v.name: v for v in [*self.graph.value_info, *self.graph.output]}
        self._inputs()

    def _shape(self, value_info, what: str) -> tuple:
        if not value_info.type.HasField("tensor_type"):
            raise OnnxError(
                f"{self.source}: {what} is not a tensor (sequences and maps are not supported)"
            )
        tensor = value_info.type.tensor_type
        if not tensor.HasField("shape"):
            raise OnnxError(f"{self.source}: {what} declares no shape (graphc needs its rank)")
        dims = []
        for d in tensor.shape.dim:
            if d.HasField("dim_value") and d.dim_value <= 0:
                message = (
                    f"{self.source}: {what} has a size-{d.dim_value} axis (graphc sizes are "
                    "positive; an empty shape or axes input can be given by "
                    "from_onnx(constants=...))"
                )
                raise NeedsConstant(message, value_info.name)
            dims.append(int(d.dim_value) if d.HasField("dim_value") else None)
        return tuple(dims)

    def _inputs(self) -> None:
        """Check initializers listed as inputs against their declared shapes; the other
        inputs become gc.input leaves when first used."""
        self.graph_inputs = {}
        for name in self.initializers:
            _check_name(name, self.source, "initializer")
        for value in self.graph.input:
            name = _check_name(value.name, self.source, "input")
            if name not in self.initializers:
                self.graph_inputs[name] = value
                continue
            shape, dims = self._shape(value, f"input {name!r}"), self.initializers[name].dims
            if len(shape) != len(dims) or any(
                d is not None and d != t for d, t in zip(shape, dims)
            ):  # an initializer listed as an input gives its default: the shapes must agree
                raise OnnxError(
                    f"{self.source}: input {name!r} is declared with shape {shape}, but its "
                    f"initializer has shape {tuple(dims)}"
                )

    def _input(self, name: str) -> Node:
        what = f"input {name!r}"
        with site_as(f"{self.source}: {what}"):
            if name in self.constants:
                return const(np.asarray(self.constants[name]))
            value = self.graph_inputs[name]
            shape = self._shape(value, what)
            dtype = dtype_of(value.type.tensor_type.elem_type, f"{self.source}: {what}")
            return input(name, shape, dtype)

    def static(self, name: str) -> np.ndarray | None:
        """The value of `name` if it is known when reading (an initializer, a constant)."""
        if name in self.statics:
            return self.statics[name]
        if name in self.constants and name in self.graph_inputs:
            return np.asarray(self.constants[name])
        if name in self.initializers:
            self.statics[name] = tensor_array(self.initializers[name], f"initializer {name!r}")
            return self.statics[name]
        node = self.values.get(name)
        return node.attrs["value"] if node is not None and node.op == "const" else None

    def value(self, name: str) -> Node:
        """The graphc node of an ONNX value made earlier (an initializer becomes a leaf)."""
        if name not in self.values and name in self.graph_inputs:
            self.values[name] = self._input(name)
        if name not in self.values:
            if name not in self.initializers:
                raise OnnxError(f"{self.source}: value {name!r} is used before any node makes it")
            array = self.static(name)
            with site_as(f"{self.source}: initializer {name!r}"):
                trainable = array.dtype.name in FLOAT_DTYPES and name not in self.frozen
                self.values[name] = (
                    param(name, array.shape, array, array.dtype.name) if trainable else const(array)
                )
        return self.values[name]

    def outputs(self, wanted) -> list[Node]:
        names = [o.name for o in self.graph.output]
        if wanted is not None:
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            missing = [w for w in wanted if w not in names]
            if missing:
                raise OnnxError(
                    f"{self.source}: no graph output named {missing[0]!r}; it has "
                    f"{', '.join(names)}"
                )
            names = wanted
        needed = self._needed(names)
        for index, node in enumerate(self.graph.node):
            if index in needed:
                self._node(index, node)
        result = []
        for name in names:
            _check_name(name, self.source, "output")
            result.append(self.value(name))
        return result

    def _needed(self, names: list[str]) -> set[int]:
        """The indices of the nodes the outputs depend on."""
        maker = {out: k for k, node in enumerate(self.graph.node) for out in node.output if out}
        needed, stack = set(), list(names)
        while stack:
            k = maker.get(stack.pop())
            if k is not None and k not in needed:
                needed.add(k)
                stack.extend(i for i in self.graph.node[k].input if i)
        return needed

    def _node(self, index: int, node) -> None:
        where = f"{self.source}: node {index} ({node.op_type} {node.name!r})"
        if node.domain not in ("", "ai.onnx"):
            raise OnnxError(f"{where}: op domain {node.domain!r} is not supported")
        entry = TABLE.get(node.op_type)
        if entry is None:
            raise OnnxError(
                f"{where}: unknown op {node.op_type!r} (graphc reads {len(TABLE)} ONNX ops, "
                "listed in docs/onnx_ops.md; from_onnx(outputs=...) can leave out an output "
                "that needs it)"
            )
        schema = self.onnx.defs.get_schema(node.op_type, self.opset)
        if schema.since_version > entry.newest:
            raise OnnxError(
                f"{where}: {node.op_type} version {schema.since_version} (opset {self.opset}) "
                f"is newer than graphc reads ({entry.newest})"
            )
        attrs = dict(entry.attrs)
        for a in node.attribute:
            if a.name not in entry.attrs:
                raise OnnxError(f"{where}: attribute {a.name!r} of {node.op_type} is not supported")
            attrs[a.name] = self.onnx.helper.get_attribute_value(a)
        for name in filter(None, node.output):
            _check_name(name, self.source, "value")
        try:
            with site_as(where):
                inputs = [self.value(i) if i else None for i in node.input]
                while inputs and inputs[-1] is None:
                    inputs.pop()
                read = Read(node, inputs, attrs, schema.since_version, self.static, node.output)
                made = entry.build(read)
                made = made if isinstance(made, tuple) else (made,)
                for name, result in zip(node.output, made):
                    if name:
                        self.values[name] = self._named(result, name)
        except NeedsConstant as error:
            said = str(error)
            raise NeedsConstant(f"{self.source}: {said}", error.name) from None
        except OnnxError as error:
            said = str(error)
            raise OnnxError(said if said.startswith(self.source) else f"{where}: {said}") from None
        except GraphError as error:
            said = str(error)
            raise OnnxError(said if said.startswith(where) else f"{where}: {said}") from None
        except (KeyError, TypeError, ValueError, IndexError) as error:  # malformed attributes
            raise OnnxError(f"{where}: malformed node ({type(error).__name__}: {error})") from None
        if len(made) < len([o for o in node.output if o]):
            raise OnnxError(f"{where}: graphc makes only its first {len(made)} outputs")

    def _named(self, node: Node, name: str) -> Node:
        """`node` named after the ONNX value, its declared type and shape checked."""
        declared = self.declared.get(name)
        if declared is not None and declared.type.HasField("tensor_type"):
            tensor = declared.type.tensor_type
            if tensor.elem_type:
                node = typed(node, dtype_of(tensor.elem_type, f"value {name!r}"))
            if tensor.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
                if len(dims) != node.ndim or any(
                    d is not None and s is not None and d != s for d, s in zip(dims, node.shape)
                ):
                    raise OnnxError(
                        f"value {name!r} is declared with shape {tuple(dims)}, but it "
                        f"computes to shape {node.shape}"
                    )
        if node.is_leaf:
            return node
        copy = apply(
            node.op,
            *node.inputs,
            _name=name,
            _scope=node.scope,
            _site=node.site,
            **dict(node.attrs),
        )
        if node in COMPOSITE_ARGUMENTS:  # a Gemm's board names the named copy's inputs
            COMPOSITE_ARGUMENTS[copy] = COMPOSITE_ARGUMENTS[node]
        return copy
