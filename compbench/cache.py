"""Content-addressed artifact cache whose entries cannot go stale, be half-written or tampered.

An entry lives under the digest of its *direct inputs* (recipe, parameters, weights and data
checksums, the artifact it was converted or evaluated from). Beneath that, one folder per
*dependency set* that produced it: the project files and library versions the step really
loaded (``compbench.dependencies``). A lookup is a hit only when a recorded set still matches
the checkout and the environment, and when every stored file still has the sha256 recorded at
build time — entries hold pickled torch modules that are loaded with ``weights_only=False``, so
a damaged or altered entry is rebuilt with a warning, never loaded.

Entries are built in a temporary folder and renamed into place under a per-entry file lock:
two processes (prebuild workers, pytest-xdist workers, two clones) never both build one entry,
and an interrupted build leaves nothing a later run would trust. The cache folder is created
readable and writable by its owner only: anyone who can write into it can make this process
unpickle their code.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compbench.dependencies import file_sha256, stale_reason
from compbench.settings import resolve_cache_dir

ENTRY_FILE = ".entry.json"  # hidden: never counted in an artifact's size
FORMAT_VERSION = 2


class CacheWarning(UserWarning):
    """A cache entry was found damaged or altered and is being rebuilt."""


def cache_key(parts: Mapping[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write via a sibling temp file and ``os.replace``: readers see the old or the new file.
    ``mode``: permission bits for the result (default: those of mkstemp, 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if absent), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class Entry:
    """A cache hit: the folder of files, the step's JSON result, what it depended on."""
    path: Path
    value: Any
    files: dict[str, str]      # name → sha256 of every stored file
    dependencies: dict

    @property
    def digest(self) -> str:
        """Identity of the stored files' content: what a later step is keyed by."""
        return cache_key(self.files)


def stored_files(directory: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(directory.iterdir())
            if p.is_file() and not p.name.startswith(".")}


# What a step runner returns: the step's JSON-able result and the dependencies it recorded.
StepRunner = Callable[[Path], tuple[Any, dict]]


class ArtifactCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else resolve_cache_dir()

    def _ensure_root(self) -> None:
        if not self.root.exists():
            self.root.mkdir(parents=True, mode=0o700)
        mode = self.root.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            warnings.warn(f"artifact cache {self.root} is writable by other users: anyone who can "
                          f"write there can make compbench load their code. Fix: chmod 700 "
                          f"{self.root}", CacheWarning, stacklevel=3)

    def key_dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def lookup(self, kind: str, inputs: Mapping[str, Any]) -> Entry | None:
        """The entry for ``inputs`` whose recorded dependencies still hold, or None."""
        return self._find(self.key_dir(kind, cache_key(inputs)))

    def _find(self, key_dir: Path) -> Entry | None:
        if not key_dir.is_dir():
            return None
        candidates = sorted((d for d in key_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
                            key=lambda d: d.stat().st_mtime_ns, reverse=True)
        for directory in candidates:
            entry = self._read(directory)
            if entry is not None and stale_reason(entry.dependencies) is None:
                return entry
        return None

    def _read(self, directory: Path) -> Entry | None:
        """A verified entry, or None after removing a damaged one (with a warning)."""
        try:
            meta = json.loads((directory / ENTRY_FILE).read_text(encoding="utf-8"))
            files = meta["files"]
            if meta.get("format") != FORMAT_VERSION:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            problem = "its entry file is missing or unreadable"
        else:
            try:
                actual = stored_files(directory)
            except OSError as exc:
                actual, problem = None, f"a file cannot be read ({exc})"
            if actual == files:
                return Entry(directory, meta.get("value"), files, meta.get("dependencies", {}))
            if actual is not None:
                changed = sorted(set(files) ^ set(actual) | {n for n in files
                                                             if actual.get(n) != files[n]})
                problem = f"file(s) {', '.join(changed)} differ from their recorded sha256"
        warnings.warn(f"cache entry {directory} is damaged or was altered ({problem}): "
                      "removed, it is rebuilt now", CacheWarning, stacklevel=4)
        shutil.rmtree(directory, ignore_errors=True)
        return None

    def get_or_build(self, kind: str, inputs: Mapping[str, Any], run: StepRunner) -> Entry:
        """The entry for ``inputs``; on a miss ``run(tmp_dir)`` builds it (under the entry's lock,
        so a concurrent builder of the same entry waits and then reuses it)."""
        self._ensure_root()
        key = cache_key(inputs)
        key_dir = self.key_dir(kind, key)
        found = self._find(key_dir)
        if found is not None:
            return found
        with file_lock(key_dir.with_suffix(".lock")):
            found = self._find(key_dir)
            if found is not None:
                return found
            key_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=key_dir))
            try:
                started = time.time()
                value, dependencies = run(tmp)
                for leftover in tmp.glob(".*"):
                    if leftover.is_file():
                        leftover.unlink()
                files = stored_files(tmp)
                meta = {"format": FORMAT_VERSION, "kind": kind, "key": key, "inputs": dict(inputs),
                        "value": value, "files": files, "dependencies": dependencies,
                        "build_seconds": round(time.time() - started, 3)}
                (tmp / ENTRY_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
                final = key_dir / cache_key(dependencies)[:16]
                if final.exists():  # the same dependency set, built again: replace it
                    shutil.rmtree(final)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Entry(final, value, files, dependencies)
