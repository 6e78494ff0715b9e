"""Content-addressed artifact cache whose entries cannot go stale, be half-written or tampered.

An entry lives under the digest of its *direct inputs* (recipe, parameters, weights and data
checksums, the artifact it was converted or evaluated from). Beneath that, one folder per
*dependency set* that produced it: the project files and library versions the step really
loaded (``compbench.dependencies``). A lookup is a hit only when a recorded set still matches
the checkout and the environment, and when every stored file still has the sha256 recorded at
build time — entries hold pickled torch modules that are loaded with ``weights_only=False``, so
a damaged or altered entry is rebuilt with a warning, never loaded. The manifest itself is
sealed the same way: its sha256 covers the step's result (a measured accuracy is served from it
as the measurement), the inputs, the key and the stored files' checksums, and the key must be
the digest of the inputs and the name of the folder the entry is in. The seal catches damage and
hand edits; it is no signature (whoever can write the folder can recompute it), which is why the
folder is its owner's alone.

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
from compbench.settings import CACHE_SETTING, resolve_cache_dir
from compbench.writable import writable_dir

ENTRY_FILE = ".entry.json"  # hidden: never counted in an artifact's size
FORMAT_VERSION = 3   # 3: the manifest is sealed (older entries are rebuilt, not trusted)
SEALED = ("kind", "key", "inputs", "value", "files", "dependencies")


class CacheWarning(UserWarning):
    """A cache entry was found damaged or altered and is being rebuilt."""


def cache_key(parts: Mapping[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def as_stored(data: Any) -> Any:
    """``data`` as it reads back from a manifest (tuples as lists, keys as strings, other
    objects as their ``str``): what a seal or a key is computed over, on write as on read."""
    return json.loads(json.dumps(data, default=str))


def seal(meta: Mapping[str, Any]) -> str:
    return cache_key({name: meta.get(name) for name in SEALED})


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


def _manifest_problem(meta: dict, directory: Path) -> str | None:
    """Why a manifest cannot be trusted as it stands, or None."""
    if meta.get("seal") != seal(meta):
        return "its recorded result, inputs or checksums differ from their seal"
    if meta["key"] != cache_key(meta["inputs"]) or meta["key"] != directory.parent.name:
        return "its key is not the digest of its inputs or not the folder it is in"
    if meta["kind"] != directory.parent.parent.parent.name:
        return f"it records a {meta['kind']} entry under another kind"
    return None


class ArtifactCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_cache_dir(root)   # absolute: step processes run elsewhere

    def ensure_root(self) -> None:
        """Create the cache folder (several step processes may do so at once on a fresh
        machine) or say in one message why it cannot be written."""
        writable_dir(self.root, "artifact cache", CACHE_SETTING, mode=0o700)
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
            problem = _manifest_problem(meta, directory)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            if not directory.is_dir():   # removed or replaced by another process meanwhile
                return None
            problem = "its entry file is missing or unreadable"
        if problem is None:
            try:
                actual = stored_files(directory)
            except OSError as exc:
                actual, problem = None, f"a file cannot be read ({exc})"
            if actual == files:
                return Entry(directory, meta["value"], files, meta["dependencies"])
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
        self.ensure_root()
        key = cache_key(inputs)
        if cache_key(as_stored(inputs)) != key:   # a reader could not check the entry's key
            raise TypeError(f"cache inputs of a {kind} step must read back from JSON as they "
                            f"were (string keys only): {dict(inputs)!r}")
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
                meta = as_stored({"format": FORMAT_VERSION, "kind": kind, "key": key,
                                  "inputs": dict(inputs), "value": value, "files": files,
                                  "dependencies": dependencies,
                                  "build_seconds": round(time.time() - started, 3)})
                meta["seal"] = seal(meta)
                (tmp / ENTRY_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
                final = key_dir / cache_key(dependencies)[:16]
                if final.exists():  # the same dependency set, built again: replace it
                    shutil.rmtree(final)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Entry(final, meta["value"], files, meta["dependencies"])   # as a hit reads it
