"""ONNX's own node test cases run through gc.from_onnx + gc.evaluate.

The onnx package ships, for every op, test cases (`onnx.backend.test.case.node`): a model,
its inputs, the expected outputs and a tolerance. `run(op_types)` reads the cases of the
ops the importer claims and sorts each into passed (graphc's values within the case's
tolerance), refused (one OnnxError, e.g. a dtype graphc lacks) or failed (a wrong value,
or any other exception): a supported op must never fail. The cases of an op are those
whose model holds a node of that type; the "_expanded" variants, which test the op's
function body (other ops), are left to those ops.
"""

from __future__ import annotations

import collections
import importlib
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError
from ..evaluation import evaluate


@dataclass
class Outcome:
    """One op's cases sorted by result (case name, and the reason for the others)."""

    passed: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (case, the error's words)
    failed: list = field(default_factory=list)  # (case, what went wrong)


def node_cases(op_types) -> dict[str, list]:
    """The backend node test cases of each op type (importing only the modules that test
    these ops: importing all of them takes many seconds)."""
    import onnx.backend.test.case.node as package

    folder = os.path.dirname(package.__file__)
    wanted = set(op_types)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for file in sorted(os.listdir(folder)):
            if not file.endswith(".py") or file.startswith("_"):
                continue
            with open(os.path.join(folder, file), encoding="utf-8") as f:
                made = collections.Counter(re.findall(r'make_node\(\s*"(\w+)"', f.read()))
            if made and made.most_common(1)[0][0] in wanted:
                importlib.import_module(f"{package.__name__}.{file[:-3]}")
    cases: dict[str, list] = {op: [] for op in sorted(wanted)}
    seen = set()
    # what collect_testcases() returns, filled by the imports above; the public call would
    # import every module of the package first
    collected = getattr(package, "_NodeTestCases", None)
    for case in package.collect_testcases() if collected is None else collected:
        if "_expanded" in case.name or case.name in seen:
            continue
        seen.add(case.name)
        for op in {n.op_type for n in case.model.graph.node} & wanted:
            cases[op].append(case)
    return cases


def run_case(case) -> tuple[str, str]:
    """('passed' | 'refused' | 'failed', why) for one test case."""
    from .errors import NeedsConstant, OnnxError
    from .importer import from_onnx

    names = [i.name for i in case.model.graph.input]
    for inputs, expected in case.data_sets:
        values = dict(zip(names, inputs))
        constants = {}
        while True:  # a shape or axes fed as an input is given as a constant
            try:
                outputs = from_onnx(case.model, constants=constants)
                break
            except NeedsConstant as error:
                if error.name in constants or error.name not in values:
                    return "refused", str(error)
                constants[error.name] = values[error.name]
            except OnnxError as error:
                return "refused", str(error).split(": ", 1)[-1]
            except Exception as error:
                return "failed", f"import raised {type(error).__name__}: {error}"
        try:
            with np.errstate(all="ignore"):
                got = evaluate(outputs, values)
        except GraphError as error:
            return "refused", str(error)
        except Exception as error:
            return "failed", f"evaluate raised {type(error).__name__}: {error}"
        for k, (g, want) in enumerate(zip(got, expected)):
            want = np.asarray(want)
            if g.shape != want.shape or g.dtype != want.dtype:
                return (
                    "failed",
                    f"output {k}: {g.dtype}{g.shape}, expected {want.dtype}{want.shape}",
                )
            try:
                np.testing.assert_allclose(g, want, rtol=case.rtol, atol=case.atol)
            except AssertionError as error:
                return "failed", f"output {k}: {str(error).strip().splitlines()[-1]}"
    return "passed", ""


def run(op_types) -> dict[str, Outcome]:
    """Every case of every op in `op_types`, sorted by outcome."""
    results = {}
    for op, cases in node_cases(op_types).items():
        outcome = Outcome()
        for case in cases:
            status, why = run_case(case)
            if status == "passed":
                outcome.passed.append(case.name)
            else:
                getattr(outcome, status).append((case.name, why))
        results[op] = outcome
    return results
