"""Content-addressed artifact cache: a second run rebuilds nothing that did not change.

A key is the sha256 of a canonical JSON of everything that determines the result (recipe name
and source fingerprint, source weights checksum, calibration data fingerprint, library
versions). Entries are built in a temporary folder and renamed into place, so an interrupted
build never leaves a half-written entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from compbench.settings import resolve_cache_dir


def cache_key(parts: Mapping[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a sibling temp file and ``os.replace``: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArtifactCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else resolve_cache_dir()

    def entry_dir(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def directory(self, kind: str, parts: Mapping[str, Any],
                  build: Callable[[Path], None]) -> Path:
        """Return the folder for ``parts``, calling ``build(tmp_dir)`` only when it is absent."""
        key = cache_key(parts)
        final = self.entry_dir(kind, key)
        if (final / "meta.json").is_file():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=final.parent))
        try:
            started = time.time()
            build(tmp)
            meta = {"key": key, "parts": dict(parts), "build_seconds": round(time.time() - started, 3)}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            try:
                os.replace(tmp, final)
            except OSError:  # another process finished the same entry first: theirs is as good
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def json_value(self, kind: str, parts: Mapping[str, Any],
                   compute: Callable[[], dict]) -> dict:
        """Cached small JSON results (e.g. an accuracy evaluation of one artifact on one data set)."""
        key = cache_key(parts)
        path = self.entry_dir(kind, key).with_suffix(".json")
        if path.is_file():
            try:
                return json.loads(path.read_text())["value"]
            except (ValueError, KeyError):
                path.unlink(missing_ok=True)  # a damaged cache entry is recomputed, never trusted
        value = compute()
        atomic_write_text(path, json.dumps({"parts": dict(parts), "value": value},
                                           indent=2, sort_keys=True, default=str))
        return value
