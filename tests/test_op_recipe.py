"""The README's add-an-op recipe, followed literally on a copy of the tree: its block pasted at
the end of graphc/ops/elementwise.py and its name added to graphc/__init__.py, under an op name
the README does not register (so that a tree that already holds softsign still passes). The
copy must stay `ruff` clean, and every registry-walking suite must pick the op up by its being
registered, with no other edit."""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RUFF = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
NAME = "recipe_softsign"  # a name the README does not use
# Each suite that walks the registry, and what of the op it checks.
SUITES = {
    "test_registry.py": "its pieces, shapes, lowering and SymPy translation",
    "test_four_way.py": "reverse, forward, numeric and symbolic derivatives agree",
    "test_numeric.py": "the complex step refuses a kernel that is not analytic",
    "test_registry_facts.py": "its stated facts and its cost",
    "test_passes.py": "the passes keep its value and gradient",
    "test_lower.py": "the lowered function computes it",
    "test_export_readable.py": "the readable renderer computes it",
    "test_visual_backprop.py": "its gate shows its board rule",
}


def readme_recipe() -> str:
    """The Python block under the README's "## Adding an op" heading."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Adding an op", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def tree_with_recipe(folder: str, name: str = NAME) -> str:
    """A copy of the tree (its packages, tests, benchmarks, examples, README and pyproject) at
    `folder`, with the recipe followed as the README says and the op renamed to `name`;
    returns the copy's root."""
    copy = os.path.join(folder, "tree")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for part in ("graphc", "visual", "tests", "benchmarks", "examples"):
        shutil.copytree(os.path.join(ROOT, part), os.path.join(copy, part), ignore=skip)
    for part in ("README.md", "pyproject.toml"):
        shutil.copy(os.path.join(ROOT, part), copy)
    block = readme_recipe().replace("softsign", name)
    family = os.path.join(copy, "graphc", "ops", "elementwise.py")
    with open(family, encoding="utf-8") as f:
        source = f.read()
    with open(family, "w", encoding="utf-8") as f:
        f.write(source.rstrip("\n") + "\n\n\n" + block)
    face = os.path.join(copy, "graphc", "__init__.py")
    with open(face, encoding="utf-8") as f:
        source = f.read()
    line = re.search(r"^from \.ops\.elementwise import (.*)$", source, flags=re.M)
    names = sorted([*line.group(1).split(", "), name])
    with open(face, "w", encoding="utf-8") as f:
        f.write(source.replace(line.group(0), f"from .ops.elementwise import {', '.join(names)}"))
    # a line grown past 100 columns is what `ruff format` wraps, as a newcomer would run it
    subprocess.run([RUFF, "format", "-q", face], cwd=copy, check=True)
    return copy


def run(copy: str, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": copy, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(argv, cwd=copy, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> str:
    return tree_with_recipe(str(tmp_path_factory.mktemp("recipe")))


def test_the_block_pasted_into_its_family_is_ruff_clean(copy):
    changed = ["graphc/ops/elementwise.py", "graphc/__init__.py"]
    lint = run(copy, RUFF, "check", *changed)
    assert lint.returncode == 0, lint.stdout
    layout = run(copy, RUFF, "format", "--check", *changed)
    assert layout.returncode == 0, layout.stdout


def test_every_registry_walking_suite_covers_the_recipe(copy):
    """The suites run on the copy, selecting the tests named after the op: each suite has some,
    and all pass."""
    suites = [os.path.join("tests", suite) for suite in SUITES]
    done = run(
        copy,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rA",
        "-p",
        "no:cacheprovider",
        "-k",
        NAME,
        *suites,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.findall(r"^PASSED tests/(\S+?)::\S*\[[^\]]*" + NAME, done.stdout, flags=re.M)
    missing = {suite: what for suite, what in SUITES.items() if suite not in passed}
    assert not missing, f"no test of {NAME} in {missing}"
