"""What a cached step really depended on, recorded while it ran, and whether that still holds.

Cache keys used to be assembled from hand-kept lists (which libraries a recipe imports, which
project modules it uses); a row that declared less than it imported was served yesterday's
artifact after an upgrade. Now every cached step runs in a fresh interpreter
(``compbench.isolation``), and when it ends the interpreter's ``sys.modules`` *is* the list:
every project source file it loaded (with its sha256) and every distribution behind a
third-party module it loaded (with its version). An entry is reused only while all of them are
unchanged, the way ccache's manifests work: editing a helper that one recipe imports lazily
rebuilds that recipe's entries and no others.

A team's own code counts the same way: a module imported from a folder outside this checkout
that is not a library folder (site-packages, the standard library) is recorded with its sha256
(``outside``), so an edited out-of-tree recipe or model is rebuilt instead of served from
yesterday's entry. A file inside the run's project folder (``compbench.project``) is recorded
relative to it (``project:<path>``) and checked against the project of the run that looks it
up: two copies of a project at once (``compbench compare``'s worktrees of two commits) each get
the entries of their own files, where absolute paths would serve one copy the other's entries
while both exist. Any other out-of-tree file is recorded by its absolute path. Only modules
the import system found by name on the import path count; code that libraries generate into
temporary files and load themselves (TensorFlow's autograph, TorchInductor) belongs to its
library, whose version is recorded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import re
import site
import sys
import sysconfig
from pathlib import Path

from compbench.settings import REPO_ROOT

_NOT_PROJECT = (".venv", ".tox", "build")  # environments inside the checkout are libraries
PROJECT_FILE = "project:"   # an ``outside`` file recorded relative to the run's project folder


def _project_relpath(path: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return None
    if relative.parts and relative.parts[0] in _NOT_PROJECT:
        return None
    return relative.as_posix()


def _library_folders() -> tuple[Path, ...]:
    """Where installed libraries and the standard library live, for this interpreter and the
    one its virtual environment was made from."""
    folders: set[Path] = set()
    for base in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=base)
        folders.update(Path(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    folders.update(Path(entry) for entry in getattr(site, "getsitepackages", list)())
    if site.ENABLE_USER_SITE:
        folders.add(Path(site.getusersitepackages()))
    return tuple(folder.resolve() for folder in folders)


def _outside_file(name: str, origin: Path, import_path: set[Path],
                  libraries: tuple[Path, ...]) -> bool:
    """Whether module ``name``, loaded from ``origin``, is a team's own code outside the
    checkout: found by its name on the import path, in a folder that holds no libraries."""
    resolved = origin.resolve()
    if resolved.is_relative_to(REPO_ROOT) or "_vendor" in resolved.parts:
        return False
    if any(resolved.is_relative_to(folder) for folder in libraries):
        return False
    location = origin.parent if origin.name.partition(".")[0] == "__init__" else origin
    for part in reversed(name.split(".")):
        if location.name.partition(".")[0] != part:
            return False    # not where an import by name finds it: generated and loaded by hand
        location = location.parent
    return location in import_path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _top_level_names(dist: importlib.metadata.Distribution) -> set[str]:
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    return {Path(str(f)).parts[0].removesuffix(".py") for f in dist.files or ()
            if Path(str(f)).parts and not Path(str(f)).parts[0].endswith((".dist-info", ".data"))}


def standard_path(entries: list[str]) -> list[str]:
    """The import path without the folders libraries add for their vendored copies (setuptools
    puts ``setuptools/_vendor``, with ``backports.tarfile`` and others, on ``sys.path`` when it
    is imported): versions found there are invisible to a process that did not import it, so
    an entry that recorded them would never match again. A vendored module belongs to its host
    package, whose version is recorded."""
    kept = []
    for entry in entries:
        path = Path(entry or ".").resolve()
        if path.is_dir() and "_vendor" not in path.parts and not (path.parent / "__init__.py").exists():
            kept.append(str(path))
    return kept


@functools.cache
def _installed() -> dict[str, str]:
    """Distribution name → version, the first found on the standard path (what is imported)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=standard_path(sys.path)):
        name = dist.metadata["Name"]
        if name and normalize_name(name) not in found:
            found[normalize_name(name)] = dist.version
    return found


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def loaded_dependencies(start_path: list[str] | None = None) -> dict:
    """Project files, out-of-tree files and distributions behind every module this
    interpreter has imported.

    ``start_path``: ``sys.path`` as it was when the interpreter started; distributions are
    looked up on its ``standard_path`` only, as ``stale_reason`` does in any other process.
    """
    versions: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    search = standard_path(start_path if start_path is not None else sys.path)
    for dist in importlib.metadata.distributions(path=search):
        if not dist.metadata["Name"]:
            continue
        name = normalize_name(dist.metadata["Name"])
        versions.setdefault(name, dist.version)  # the first on the path is what is imported
        for top in _top_level_names(dist):
            if name not in owners.setdefault(top, []):
                owners[top].append(name)
    project: dict[str, str] = {}
    outside: dict[str, str] = {}
    distributions: dict[str, str] = {}
    libraries = _library_folders()
    import_path = {Path(os.path.abspath(entry or ".")) for entry in
                   [*(start_path or ()), *sys.path] if isinstance(entry, str)}
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
        path = Path(os.path.abspath(origin))
        if _outside_file(name, path, import_path, libraries):
            key = _outside_key(path)
            if key not in outside and path.is_file():
                outside[key] = file_sha256(path)
            continue
        for dist in owners.get(top, ()):
            distributions[dist] = versions[dist]
    recorded = {"project": dict(sorted(project.items())),
                "distributions": dict(sorted(distributions.items())),
                "python": platform.python_version()}
    if outside:   # absent otherwise, so the entries of the built-in suite keep their names
        recorded["outside"] = dict(sorted(outside.items()))
    return recorded


def installed_version(distribution: str) -> str | None:
    return _installed().get(normalize_name(distribution))


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _project_root() -> Path | None:
    """The run's project folder when it is not this checkout (``compbench.project``)."""
    from compbench.project import current

    root = current().root
    return None if root == REPO_ROOT else root


def _outside_key(path: Path) -> str:
    """How an out-of-tree file is recorded: relative to the run's project, or absolute."""
    root, resolved = _project_root(), path.resolve()
    if root is not None and resolved.is_relative_to(root):
        return PROJECT_FILE + resolved.relative_to(root).as_posix()
    return str(path)


def _current_digest(relpath: str) -> str | None:
    if relpath.startswith(PROJECT_FILE):
        root = _project_root()
        if root is None:
            return None   # recorded in a team's project; this run has none
        path = root / relpath.removeprefix(PROJECT_FILE)
    else:
        path = REPO_ROOT / relpath   # an absolute path (an ``outside`` file) stays itself
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    return _DIGESTS[key]


def forget_versions() -> None:
    """Installed versions are memoised per process; call after changing what is installed."""
    _installed.cache_clear()


def stale_reason(recorded: dict) -> str | None:
    """Why a recorded dependency set no longer matches this checkout and environment (None: it
    still does). The first difference found is enough to decide a miss."""
    if recorded.get("python") != platform.python_version():
        return f"Python {recorded.get('python')} → {platform.python_version()}"
    for relpath, digest in [*recorded.get("project", {}).items(),
                            *recorded.get("outside", {}).items()]:
        if _current_digest(relpath) != digest:
            return f"{relpath} changed"
    for dist, version in recorded.get("distributions", {}).items():
        now = installed_version(dist)
        if now != version:
            return f"{dist} {version} → {now or 'not installed'}"
    return None
