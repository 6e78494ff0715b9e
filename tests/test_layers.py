"""The project's folders form layers, and no import points up.

A lower folder that imports a higher one turns "ground every folder stands on" into a cycle: a
change to the runner would then be a change to the models, and the cache (which keys every
step by the project files its process loaded) would rebuild recipes for a report edit. The
order is declared here once; docs/reference/code-layout.md ("Where things are") shows it.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from compbench.settings import REPO_ROOT

# Lowest first. Folders on one level may not import each other either: they are independent.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("compbench",),                         # errors, settings, assets, cache, isolation, hardware
    ("models", "evaluation", "formats"),    # networks, accuracy protocols, artifact conversions
    ("engines", "tasks"),                   # inference back-ends; model + data + protocol
    ("compression",),                       # recipes
    ("runner",),                            # matrix, pipeline, pytest plugin, report, CLI
)
LEVEL = {folder: level for level, folders in enumerate(LAYERS) for folder in folders}


def imported_top_levels(path: Path) -> set[str]:
    """Top-level project folders ``path`` imports, lazy (function-level) imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.partition(".")[0])
    return found & set(LEVEL)


def test_every_installed_package_has_a_layer():
    include = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in include} == set(LEVEL), (
        "pyproject.toml's packages and tests/test_layers.py's LAYERS disagree: give every "
        "package a layer")


def test_no_import_points_up_or_sideways():
    wrong = []
    for folder, level in LEVEL.items():
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for target in imported_top_levels(path) - {folder}:
                if LEVEL[target] >= level:
                    wrong.append(f"{path.relative_to(REPO_ROOT)} imports {target} "
                                 f"(layer {LEVEL[target]} >= {level})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from compbench.runner.matrix import MATRIX\n    import compbench.models.scrfd\n")
    assert imported_top_levels(module) == {"runner", "models"}
