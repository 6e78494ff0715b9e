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
    ("bench",),                             # the built-in suite and the gate's tests
)
LEVEL = {folder: level for level, folders in enumerate(LAYERS) for folder in folders}


def folder_of(module: str) -> str:
    """The project folder a module path names: the folders are imported as ``compbench.runner``,
    ``compbench.models``, ... (one installed namespace), the core as ``compbench.specs``."""
    first, _, rest = module.partition(".")
    second = rest.partition(".")[0]
    return second if first == "compbench" and second in LEVEL else first


def imported_top_levels(path: Path) -> set[str]:
    """Project folders ``path`` imports, lazy (function-level) imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(folder_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "compbench":   # from compbench import runner
                found.update(alias.name if alias.name in LEVEL else "compbench"
                             for alias in node.names)
            else:
                found.add(folder_of(node.module))
    return found & set(LEVEL)


def test_every_installed_package_has_a_layer():
    packages = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["packages"]
    assert {folder_of(name) for name in packages} == set(LEVEL), (
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
    module.write_text("def f():\n    from compbench.runner.matrix import MATRIX\n"
                      "    import compbench.models.scrfd\n    from compbench import tasks\n")
    assert imported_top_levels(module) == {"runner", "models", "tasks"}
