"""Where things live: the assets folder and the artifact cache, each found through one setting.

Precedence for the assets folder: explicit argument (``--assets``) > ``COMPBENCH_ASSETS`` >
``../shared/assets`` next to the repository. Relative paths are taken from the repository root so
the suite behaves the same whatever directory pytest is started from.

The artifact cache's folder is the exception: a relative ``--cache-dir`` or ``COMPBENCH_CACHE``
means what it means in the shell it was typed in, relative to that working directory. It is made
absolute once, when this module is imported (the variable is rewritten in this process's
environment), because the step processes that build into it run from the repository root and
inherit the environment: a path left relative would name another folder there.
"""

from __future__ import annotations

import os
from pathlib import Path

from compbench.layout import SOURCE_ROOT

# The folder holding runner/, models/, bench/, ...: the repository's root in a checkout, the
# installed compbench package itself in site-packages (compbench.layout), where ``repo:`` weights,
# bench/ and compression/selection/ then are too.
REPO_ROOT = SOURCE_ROOT
DEFAULT_ASSETS = Path("../shared/assets")
ASSETS_ENV = "COMPBENCH_ASSETS"
CACHE_ENV = "COMPBENCH_CACHE"
HISTORY_ENV = "COMPBENCH_HISTORY"
CACHE_SETTING = f"--cache-dir or {CACHE_ENV}"  # what a user changes to move the cache


def resolve_assets_dir(explicit: str | os.PathLike | None = None) -> Path:
    raw = explicit if explicit is not None else os.environ.get(ASSETS_ENV) or DEFAULT_ASSETS
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path.resolve()


def resolve_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The artifact cache is shared between clones on one machine (it is content-addressed)."""
    raw = explicit if explicit is not None else os.environ.get(CACHE_ENV)
    if raw:
        return Path(os.path.abspath(Path(raw).expanduser()))
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "compbench"


def _cache_env_made_absolute() -> None:
    if os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = str(resolve_cache_dir())


_cache_env_made_absolute()


def resolve_history_path(report_dir: Path, explicit: str | os.PathLike | None = None) -> Path:
    """``--history`` > ``COMPBENCH_HISTORY`` > ``<report dir>/history.sqlite``."""
    raw = explicit or os.environ.get(HISTORY_ENV)
    if not raw:
        return report_dir / "history.sqlite"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
