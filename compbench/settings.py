"""Where things live: the assets folder and the artifact cache, each found through one setting.

Precedence for the assets folder: explicit argument (``--assets``) > ``COMPBENCH_ASSETS`` >
``../shared/assets`` next to the repository. Relative paths are taken from the repository root so
the suite behaves the same whatever directory pytest is started from.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSETS = Path("../shared/assets")
ASSETS_ENV = "COMPBENCH_ASSETS"
CACHE_ENV = "COMPBENCH_CACHE"
HISTORY_ENV = "COMPBENCH_HISTORY"


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
        path = Path(raw).expanduser()
        return (path if path.is_absolute() else REPO_ROOT / path).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "compbench"


def resolve_history_path(report_dir: Path, explicit: str | os.PathLike | None = None) -> Path:
    """``--history`` > ``COMPBENCH_HISTORY`` > ``<report dir>/history.sqlite``."""
    raw = explicit or os.environ.get(HISTORY_ENV)
    if not raw:
        return report_dir / "history.sqlite"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
