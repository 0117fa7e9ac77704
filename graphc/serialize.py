"""Saving graphs as JSON and loading them back, with every reference checked.

Loading never executes anything: it reads JSON, looks op names up in the registry and
rebuilds nodes through the same shape inference users go through.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import GraphError, LoadError
from .files import write_file
from .ir import Node, as_list, scope, site_as, topological_order
from .ops import leaves
from .ops.registry import REGISTRY, apply, check_dtype

FORMAT = "graphc-graph"
VERSION = 1


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"ndarray", "dtype"}:
            raise LoadError(f"unexpected attribute value {value!r}")
        return np.asarray(value["ndarray"], dtype=check_dtype(value["dtype"]))
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def to_json(outputs: Node | Iterable[Node]) -> dict:
    """The graph as a JSON-ready dict: nodes in topological order, inputs by index."""
    order = topological_order(outputs)
    index = {node.id: i for i, node in enumerate(order)}
    nodes = []
    for node in order:
        entry = {
            "op": node.op,
            "inputs": [index[i.id] for i in node.inputs],
            "attrs": {k: _encode(v) for k, v in node.attrs.items()},
        }
        if node.is_leaf and node.op != "const":
            entry.update(shape=[d for d in node.shape], dtype=node.dtype, name=node.name)
        elif node.name:
            entry["name"] = node.name
        if node.scope:
            entry["scope"] = node.scope
        nodes.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "nodes": nodes,
        "outputs": [index[o.id] for o in as_list(outputs)],
    }


def save(outputs: Node | Iterable[Node], path: str | os.PathLike) -> None:
    """Write the graph to `path` as JSON."""
    data = to_json(outputs)
    write_file(path, lambda f: json.dump(data, f, indent=1))


def _leaf(entry: dict) -> Node:
    op, attrs = entry["op"], entry.get("attrs", {})
    if op == "const":
        return leaves.const(_decode(attrs["value"]))
    shape = tuple(entry["shape"])
    dtype = check_dtype(entry["dtype"])
    if op == "input":
        return leaves.input(entry["name"], shape, dtype)
    init = _decode(attrs.get("init"))
    if op == "state":
        return leaves.state(entry["name"], shape, init, dtype)
    return leaves.param(
        entry["name"], shape, np.asarray(init) if isinstance(init, tuple) else init, dtype
    )


def attribute_names(op: str) -> set[str] | None:
    """The attributes a node of `op` may carry: its kernel's keyword parameters (the kernel
    is called with every attribute), or None when the kernel does not say."""
    opdef = REGISTRY[op]
    if isinstance(opdef.kernel, np.ufunc):  # np.tanh: called with the arrays alone
        return set()
    try:
        parameters = list(inspect.signature(opdef.kernel).parameters.values())
    except (TypeError, ValueError):  # no kernel, or one whose signature Python cannot read
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters[opdef.arity :]}


def _check_attributes(node: Node, given: dict, where: str) -> None:
    """Refuse an attribute the op does not have: the kernel's parameters, or (for a leaf or
    a kernel that does not say) the attributes the rebuilt node kept; one more would be
    ignored, or fail only when the graph runs."""
    allowed = attribute_names(node.op)
    allowed = set(node.attrs) if allowed is None else allowed
    unknown = sorted(set(given) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise LoadError(
            f"{where}: {node.op} has no attribute {unknown[0]!r} (its attributes: {known})"
        )


def from_json(data: Any, source: str = "<json>") -> list[Node]:
    """Rebuild the outputs of a graph from `to_json`'s dict, checking every reference."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LoadError(f'{source}: not a graphc graph file (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise LoadError(f"{source}: unsupported version {data.get('version')!r}")
    entries = data.get("nodes")
    if not isinstance(entries, list):
        raise LoadError(f'{source}: "nodes" must be a list')
    built: list[Node] = []
    for i, entry in enumerate(entries):
        where = f"{source}: node {i}"
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("attrs", {}), dict):
                raise LoadError(f"{where}: attrs must be an object of name: value, and a node one")
            op = entry["op"]
            if op not in REGISTRY:
                raise LoadError(f"{where}: unknown op {op!r}")
            refs = entry.get("inputs", [])
            for r in refs:
                if not isinstance(r, int) or r < 0 or r >= len(entries):
                    raise LoadError(f"{where}: input {r!r} refers to no node")
                if r >= i:
                    raise LoadError(
                        f"{where}: input {r} is not an earlier node "
                        "(a cycle, or nodes out of order)"
                    )
            if REGISTRY[op].leaf:
                scoped = scope(entry["scope"]) if entry.get("scope") else contextlib.nullcontext()
                with scoped, site_as(where):
                    node = _leaf(entry)
            else:
                attrs = {k: _decode(v) for k, v in entry.get("attrs", {}).items()}
                node = apply(
                    op,
                    *(built[r] for r in refs),
                    _name=entry.get("name"),
                    _scope=entry.get("scope"),
                    _site=where,
                    **attrs,
                )
        except LoadError:
            raise
        except GraphError as error:
            said = str(error)  # it may name the node already (the site of what it built)
            raise LoadError(said if said.startswith(where) else f"{where}: {said}") from None
        except RecursionError:
            raise LoadError(f"{where}: nested too deeply") from None
        except (KeyError, TypeError, ValueError) as error:
            raise LoadError(f"{where}: malformed entry ({type(error).__name__}: {error})") from None
        _check_attributes(node, entry.get("attrs", {}), where)
        built.append(node)
    outputs = data.get("outputs")
    if (
        not isinstance(outputs, list)
        or not outputs
        or any(not isinstance(o, int) or not 0 <= o < len(built) for o in outputs)
    ):
        raise LoadError(f'{source}: "outputs" must list node indices')
    return [built[o] for o in outputs]


def load(path: str | os.PathLike) -> list[Node]:
    """Read a graph saved by `save`; returns the list of output nodes."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{path}: is a folder, not a saved graph (.json)") from None
    except OSError as error:
        raise LoadError(f"{path}: cannot read it ({error.strerror or error})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LoadError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:  # [[[[...: Python's JSON parser recurses once per level
        raise LoadError(f"{path}: not a graphc graph (JSON nested too deeply)") from None
    return from_json(data, str(path))
