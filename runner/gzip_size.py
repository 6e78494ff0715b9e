"""An artifact's gzip-compressed size, as the TF Model Optimization guide reports model size:
zeros from pruning and shared values from clustering pay off only once the file is compressed.

Level-9 compression of every artifact is a noticeable part of a warm session, for a number that
depends on nothing but the file's bytes. So each file's compressed size is kept in the artifact
cache folder under the sha256 of its content (``gzip-sizes/<sha256>.json``): a content address
cannot go stale, a damaged, edited or foreign record is computed again (and rewritten), and
hashing a file costs a small fraction of compressing it. Within one process the rows of one artifact on
several engines (torch and torch-compile, onnxruntime at two thread counts) share its files, so
each file is also looked up once per process.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from compbench.cache import ArtifactCache, atomic_write_text, cache_key
from compbench.formats.artifacts import Artifact

LEVEL = 9
FOLDER = "gzip-sizes"

_IN_PROCESS: dict[tuple[str, int, int], int] = {}


def gzip_size_bytes(artifact: Artifact, cache: ArtifactCache) -> int:
    """The sum over every file the engine loads (an OpenVINO IR is .xml + .bin)."""
    return sum(_file_gzip_size(path, cache) for path in artifact.files)


def _file_gzip_size(path: Path, cache: ArtifactCache) -> int:
    stat = path.stat()
    seen = (str(path), stat.st_size, stat.st_mtime_ns)
    if seen not in _IN_PROCESS:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        record = cache.root / FOLDER / digest[:2] / f"{digest}.json"
        size = _recorded(record, digest)
        if size is None:
            size = len(gzip.compress(data, compresslevel=LEVEL, mtime=0))
            fields = {"sha256": digest, "level": LEVEL, "gzip_size_bytes": size}
            try:
                atomic_write_text(record, json.dumps(fields | {"seal": cache_key(fields)}))
            except OSError:   # a read-only or full cache folder: measured, just not kept
                pass
        _IN_PROCESS[seen] = size
    return _IN_PROCESS[seen]


def _recorded(record: Path, digest: str) -> int | None:
    """The stored size, or None when there is none, or it is damaged, edited (its seal, as a
    cache entry's, no longer matches) or not of this file and level: then the caller measures
    it again."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    fields = {name: data.get(name) for name in ("sha256", "level", "gzip_size_bytes")}
    size = fields["gzip_size_bytes"]
    if fields["sha256"] != digest or fields["level"] != LEVEL or type(size) is not int \
            or size <= 0 or data.get("seal") != cache_key(fields):
        return None
    return size
