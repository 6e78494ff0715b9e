"""Which project a run belongs to: the folder whose ``pyproject.toml`` has ``[tool.compbench]``.

A project owns what a run reads and writes besides the cache: the plugins that declare its
matrix, its ``baselines/`` and ``reports/`` folders, its ``ci/durations.json`` and, if it says
so, its assets folder. It is found from the working directory upwards, like pytest's rootdir,
so a team's repository and this checkout work the same way; ``COMPBENCH_PROJECT`` names the
folder explicitly. The file is read as TOML data, never executed.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from compbench.errors import CompbenchError
from compbench.settings import REPO_ROOT

PROJECT_ENV = "COMPBENCH_PROJECT"
CONFIG_HINT = ('declare it in your pyproject.toml:\n  [tool.compbench]\n  plugins = ["yourpackage.matrix"]\n'
               "(docs/how-to/own-model.md)")


class ProjectError(CompbenchError):
    """No project, or a project whose ``[tool.compbench]`` table is malformed."""


@dataclass(frozen=True)
class Project:
    root: Path
    config_file: Path
    plugins: tuple[str, ...]     # modules implementing compbench.runner.hookspec, in order
    assets: Path | None = None   # the project's assets folder, if it declares one

    @property
    def baselines_dir(self) -> Path:
        return self.root / "baselines"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def durations_file(self) -> Path:
        return self.root / "ci" / "durations.json"


def _table(config_file: Path) -> dict | None:
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{config_file}: cannot be read as TOML ({exc}); fix the file") from None
    table = data.get("tool", {}).get("compbench") if isinstance(data.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise ProjectError(f"{config_file}: [tool.compbench] must be a table; {CONFIG_HINT}")
    return table


def _parse(root: Path, config_file: Path, table: dict) -> Project:
    unknown = set(table) - {"plugins", "assets"}
    if unknown:
        raise ProjectError(f"{config_file}: [tool.compbench] has unknown key(s) "
                           f"{', '.join(sorted(unknown))} (known: plugins, assets)")
    plugins = table.get("plugins", [])
    if not (isinstance(plugins, list) and all(isinstance(p, str) and p for p in plugins)):
        raise ProjectError(f"{config_file}: [tool.compbench] plugins must be a list of module "
                           f"names, got {plugins!r}")
    assets = table.get("assets")
    if assets is not None and not (isinstance(assets, str) and assets):
        raise ProjectError(f"{config_file}: [tool.compbench] assets must be a folder path, "
                           f"got {assets!r}")
    return Project(root, config_file, tuple(plugins),
                   (root / Path(assets).expanduser()).resolve() if assets else None)


def find_project(start: Path | None = None) -> Project:
    """The project of ``start`` (default: ``COMPBENCH_PROJECT``, else the working directory):
    the nearest folder upwards whose pyproject.toml has ``[tool.compbench]``; this checkout's
    own project when there is none (the built-in suite, run from anywhere)."""
    explicit = os.environ.get(PROJECT_ENV)
    if start is None and explicit:
        root = Path(explicit).expanduser().resolve()
        config_file = root / "pyproject.toml"
        table = _table(config_file) if config_file.is_file() else None
        if table is None:
            raise ProjectError(f"{PROJECT_ENV}={explicit}: {config_file} has no [tool.compbench] "
                               f"table; {CONFIG_HINT}")
        return _parse(root, config_file, table)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, REPO_ROOT):
        config_file = folder / "pyproject.toml"
        if config_file.is_file():
            table = _table(config_file)
            if table is not None:
                return _parse(folder, config_file, table)
    raise ProjectError(f"no compbench project in {here} or above, nor at {REPO_ROOT}; {CONFIG_HINT}")


@functools.cache
def current() -> Project:
    """The project of this process (found once: the working directory may change later)."""
    return find_project()
