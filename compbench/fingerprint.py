"""Content digests of data files (evaluation images, calibration sets, weights).

What *code and libraries* a cached step depends on is not declared here: it is recorded while
the step runs (``compbench.dependencies``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """sha256 over names and contents, in sorted order, so renaming or editing any file shows."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root else path.name
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
