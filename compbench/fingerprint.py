"""Content digests of data files (evaluation images, calibration sets, weights).

What *code and libraries* a cached step depends on is not declared here: it is recorded while
the step runs (``compbench.dependencies``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from compbench.assets import sha256_once

UNREADABLE_FIX = "Check its permissions, or restore the asset folder from its README.md"


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """sha256 over names and contents, in sorted order, so renaming or editing any file shows.

    Each file's content is hashed once per process (``sha256_once``): every variant of a model
    keys its builds by the same calibration and evaluation sets, and re-reading the CIFAR-10
    training batches for each of them cost seconds per session."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root else path.name
        digest.update(name.encode() + b"\0")
        digest.update(bytes.fromhex(sha256_once(path, UNREADABLE_FIX)))
    return digest.hexdigest()
