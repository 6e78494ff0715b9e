"""A team's own code, imported from a folder outside this checkout and outside site-packages, is
a cache input like this repository's files: editing the module a step used rebuilds that step's
entry, editing one it did not use rebuilds nothing.

A real step (``compbench.isolation.run_step``, a fresh interpreter) through the real cache; the
team's package is written to a temporary folder outside the checkout and reaches the step's
interpreter the way a user's project does, on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compbench.cache import ENTRY_FILE, ArtifactCache
from compbench.isolation import run_step
from compbench.settings import REPO_ROOT

RECIPE = '''
def build(request, out_dir):
    from team_models import helper   # a lazy import, as recipes do
    (out_dir / "weights.txt").write_text(helper.WEIGHTS)
    return {"weights": helper.WEIGHTS}
'''


@pytest.fixture
def team(tmp_path, monkeypatch) -> Path:
    outside = tmp_path / "team-project"
    package = outside / "team_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "recipe.py").write_text(RECIPE)
    (package / "helper.py").write_text('WEIGHTS = "first"\n')
    (package / "unrelated.py").write_text('NOTHING = "imported by no step"\n')
    assert not outside.resolve().is_relative_to(REPO_ROOT)
    monkeypatch.syspath_prepend(str(outside))
    monkeypatch.setenv("PYTHONPATH", str(outside))
    return package


def build(cache: ArtifactCache):
    return cache.get_or_build("recipes", {"row": "team/fp32"}, lambda out: run_step(
        "team_models.recipe:build", {}, out, "team/fp32"))


def entries(cache_dir: Path) -> set[Path]:
    return {meta.parent for meta in cache_dir.glob(f"*/*/*/*/{ENTRY_FILE}")}


def touch(path: Path, text: str = "\n# edited by the test\n") -> None:
    path.write_text(path.read_text() + text)


def test_editing_the_teams_module_rebuilds_what_used_it_and_nothing_else(team, tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    first = build(cache)
    recorded = json.loads((first.path / ENTRY_FILE).read_text())["dependencies"]
    used = {str(team / name) for name in ("__init__.py", "recipe.py", "helper.py")}
    assert used <= set(recorded.get("outside", {})), recorded
    assert str(team / "unrelated.py") not in recorded.get("outside", {})
    assert entries(tmp_path / "cache") == {first.path}

    touch(team / "unrelated.py")                       # a module of the team no step imported
    assert build(cache).path == first.path and entries(tmp_path / "cache") == {first.path}

    touch(team / "helper.py", 'WEIGHTS = "second"\n')  # what the recipe imported lazily
    second = build(cache)
    assert second.path != first.path and second.value == {"weights": "second"}
    assert (second.path / "weights.txt").read_text() == "second"

    assert build(cache).path == second.path            # and then reused as it is


def test_code_a_library_generates_and_loads_itself_is_not_recorded(tmp_path, monkeypatch):
    """TensorFlow's autograph writes functions to temporary files and loads them by hand; were
    they recorded, an entry would name a file deleted at exit and never match again."""
    import importlib.util
    import sys

    from compbench.dependencies import loaded_dependencies, stale_reason

    generated = tmp_path / "__autograph_generated_file1a2b.py"
    generated.write_text("def converted():\n    return 1\n")
    spec = importlib.util.spec_from_file_location(generated.stem, generated)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, generated.stem, module)
    recorded = loaded_dependencies()
    assert str(generated) not in recorded.get("outside", {})
    generated.unlink()
    assert stale_reason(recorded) is None


def project_copy(root: Path, weights: str) -> Path:
    """A team's project (pyproject.toml with ``[tool.compbench]``) holding the recipe package."""
    package = root / "team_models"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.compbench]\nplugins = []\n')
    (package / "__init__.py").write_text("")
    (package / "recipe.py").write_text(RECIPE)
    (package / "helper.py").write_text(f'WEIGHTS = "{weights}"\n')
    return root


def test_two_copies_of_a_project_at_once_each_get_their_own_files_entries(tmp_path, monkeypatch):
    """compare's two worktrees of a team's repository exist side by side: the head's edited
    helper must not be served the base's entry because the base's files are still there, and
    a copy with the same files reuses it."""
    from compbench.project import PROJECT_ENV, current

    cache = ArtifactCache(tmp_path / "cache")

    def build_in(project: Path):
        monkeypatch.setenv(PROJECT_ENV, str(project))
        monkeypatch.setenv("PYTHONPATH", str(project))
        current.cache_clear()
        return build(cache)

    try:
        base = build_in(project_copy(tmp_path / "base", "first"))
        recorded = json.loads((base.path / ENTRY_FILE).read_text())["dependencies"]["outside"]
        assert "project:team_models/helper.py" in recorded, recorded
        head = build_in(project_copy(tmp_path / "head", "second"))
        assert head.path != base.path and head.value == {"weights": "second"}
        same = build_in(project_copy(tmp_path / "same-as-base", "first"))
        assert same.path == base.path and same.value == {"weights": "first"}
    finally:
        current.cache_clear()
