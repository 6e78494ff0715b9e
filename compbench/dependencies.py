"""What a cached step really depended on, recorded while it ran, and whether that still holds.

Cache keys used to be assembled from hand-kept lists (which libraries a recipe imports, which
project modules it uses); a row that declared less than it imported was served yesterday's
artifact after an upgrade. Now every cached step runs in a fresh interpreter
(``compbench.isolation``), and when it ends the interpreter's ``sys.modules`` *is* the list:
every project source file it loaded (with its sha256) and every distribution behind a
third-party module it loaded (with its version). An entry is reused only while all of them are
unchanged, the way ccache's manifests work: editing a helper that one recipe imports lazily
rebuilds that recipe's entries and no others.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import sys
from pathlib import Path

from compbench.settings import REPO_ROOT

_NOT_PROJECT = (".venv", ".tox", "build")  # environments inside the checkout are libraries


def _project_relpath(path: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return None
    if relative.parts and relative.parts[0] in _NOT_PROJECT:
        return None
    return relative.as_posix()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def loaded_dependencies() -> dict:
    """Project files and distributions behind every module this interpreter has imported."""
    project: dict[str, str] = {}
    distributions: dict[str, str] = {}
    owners = importlib.metadata.packages_distributions()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in ("__main__", "__mp_main__"):
            continue
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        relpath = _project_relpath(Path(origin))
        if relpath is not None:
            if relpath not in project and Path(origin).is_file():
                project[relpath] = file_sha256(Path(origin))
            continue
        for dist in owners.get(top, ()):
            found = installed_version(dist)
            if found is not None:
                distributions[dist] = found
    return {"project": dict(sorted(project.items())),
            "distributions": dict(sorted(distributions.items())),
            "python": platform.python_version()}


@functools.cache
def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _current_digest(relpath: str) -> str | None:
    path = REPO_ROOT / relpath
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (relpath, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    return _DIGESTS[key]


def forget_versions() -> None:
    """Installed versions are memoised per process; call after changing what is installed."""
    installed_version.cache_clear()


def stale_reason(recorded: dict) -> str | None:
    """Why a recorded dependency set no longer matches this checkout and environment (None: it
    still does). The first difference found is enough to decide a miss."""
    if recorded.get("python") != platform.python_version():
        return f"Python {recorded.get('python')} → {platform.python_version()}"
    for relpath, digest in recorded.get("project", {}).items():
        if _current_digest(relpath) != digest:
            return f"{relpath} changed"
    for dist, version in recorded.get("distributions", {}).items():
        now = installed_version(dist)
        if now != version:
            return f"{dist} {version} → {now or 'not installed'}"
    return None
