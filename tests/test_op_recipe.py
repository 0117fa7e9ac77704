"""A new op is covered by being registered: the README's softsign recipe, taken from the README
text itself and registered from one file, goes through the registry-wide checks, the four
ways of differentiation, the passes, the cost table, the exporter and the gate view with no
other edit."""

import dataclasses
import importlib.util
import os
import re
import sys

import numpy as np
import pytest

import graphc as gc
import test_four_way as four_way
import test_numeric as numeric
import test_registry as registry_checks
import visual
from graphc.lower import build_module
from graphc.ops.registry import REGISTRY
from graphc.passes.shapes import same_runtime_shape
from test_visual_render import svg_groups, svg_of, texts

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def recipe() -> str:
    """The Python block under the README's "## Adding an op" heading."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Adding an op", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


@pytest.fixture(scope="module")
def softsign(tmp_path_factory):
    """The recipe written to its own file and imported (which registers the op); the
    registry is restored afterwards."""
    path = tmp_path_factory.mktemp("recipe") / "softsign_op.py"
    path.write_text(recipe())
    spec = importlib.util.spec_from_file_location("softsign_op", path)
    module = importlib.util.module_from_spec(spec)
    assert "softsign" not in REGISTRY
    try:
        spec.loader.exec_module(module)
        yield module.softsign
    finally:
        REGISTRY.pop("softsign", None)
        sys.modules.pop("softsign_op", None)


def test_the_recipe_passes_the_registry_wide_checks(softsign):
    rng = np.random.default_rng(0)
    registry_checks.test_op_has_every_piece("softsign")
    registry_checks.test_inferred_shape_and_dtype_match_the_kernel("softsign", rng)
    registry_checks.test_lowering_computes_the_kernel_to_the_last_bit("softsign", rng)
    registry_checks.test_sympy_translation_computes_the_kernel("softsign", rng)


def test_the_recipe_differentiates_the_same_four_ways_away_from_its_kink(softsign):
    four_way.test_every_op_differentiates_the_same_four_ways("softsign")


def test_the_complex_step_refuses_the_recipe_by_name(softsign):
    """softsign's kernel uses np.abs, which is not analytic: complex_step stays off (the
    default), so the complex step refuses it instead of giving a wrong number."""
    assert REGISTRY["softsign"].complex_step is False
    numeric.test_every_ops_complex_step_claim_holds("softsign", np.random.default_rng(0))


def test_the_passes_and_the_cost_table_cover_the_recipe(softsign):
    rng = np.random.default_rng(1)
    x = gc.input("x", (None, 3))
    w = gc.param("w", (3,), init=0.5)
    # elementwise: its run-time shape is its input's, so shape-keeping rewrites may use it
    assert same_runtime_shape(softsign(x * w), x * w)
    loss = gc.mean(softsign(x * w) + softsign(x * w))
    values = gc.init_params(loss) | {"x": rng.normal(size=(4, 3))}
    step = [loss, *gc.grad(loss, [w])]
    result = gc.optimize(step)
    assert result.steps[0].counts["merged"] >= 1  # the repeated softsign(x * w)
    assert "softsign" in {n.op for n in gc.topological_order(result.outputs)}
    for got, want in zip(gc.evaluate(result.outputs, values), gc.evaluate(step, values)):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    table = gc.cost_table(loss, {"x": (4, 3)}, optimized=False)
    rows = [r for r in table.rows if r["op"] == "softsign"]
    assert rows and all(r["flops"] == 3 * 12 for r in rows if r["shape"] == (4, 3))
    assert table.ratio is not None and table.gradient_flops > table.forward_flops


@pytest.mark.parametrize("style", ["fast", "readable"])
def test_both_export_styles_write_the_recipe(softsign, tmp_path, style):
    x = gc.input("x", (None, 3))
    w = gc.param("w", (3,), init=0.5)
    loss = gc.mean(softsign(x * w))
    path = tmp_path / "step.py"
    gc.export(loss, str(path), style=style)
    assert "abs" in path.read_text()
    module = build_module(loss, style=style).compile(f"<{style}>")
    values = gc.init_params(loss) | {"x": np.random.default_rng(2).normal(size=(4, 3))}
    got_loss, got_grads = module["loss_and_grads"](gc.init_params(loss), {"x": values["x"]})
    want_loss, want_grad = gc.evaluate([loss, gc.grad(loss, w)], values)
    assert got_loss == pytest.approx(float(want_loss), rel=1e-12)
    np.testing.assert_allclose(got_grads["w"], want_grad, rtol=1e-12)
    step = [loss, *gc.grad(loss, [w])]
    for got, want in zip(gc.lower(step).run(values), gc.evaluate(step, values)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_gate_view_writes_the_recipes_board_rule(softsign, monkeypatch):
    """The gate view writes the op's own `board` text at its gate, with the input's name filled
    in (read back from the SVG `dot` made); an op without one names its vjp rule instead."""
    x = gc.input("x", (None, 3))
    w = gc.param("w", (3,), init=0.5)
    loss = gc.mean(softsign(x * w))
    values = gc.init_params(loss) | {"x": np.random.default_rng(3).normal(size=(2, 3))}

    def gate_lines() -> list[str]:
        nodes = svg_groups(svg_of(visual.render_backprop(loss, values)), "node")
        return [line for group in nodes.values() for line in texts(group)]

    assert any(line.startswith("∂/∂mul: 1/(1 + |mul|)² = [") for line in gate_lines())
    without = dataclasses.replace(REGISTRY["softsign"], board=None)
    monkeypatch.setitem(REGISTRY, "softsign", without)
    assert "∂/∂mul: softsign's vjp rule" in " ".join(gate_lines())
