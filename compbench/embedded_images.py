"""sha256 of every image of the embedded WIDER FACE folders, by path inside its folder.

The folders are listed in ``compbench.assets.MANIFEST`` without a checksum (they are folders),
and a JPEG damaged in the middle (a zeroed block, flipped bits) still decodes, into wrong pixels
that lower the AP without any error. The checksums are data, so they live in
``embedded_images.json`` beside this module (package data, read with ``json``: nothing in it can
run), generated from the assets folder with::

    {folder: {str(p.relative_to(root / folder)): sha256_of(p) for p in sorted((root / folder).rglob("*.jpg"))}
     for folder in EMBEDDED_IMAGES}
"""

from __future__ import annotations

import json
import re
from importlib import resources

from compbench.errors import CompbenchError

DATA_FILE = "embedded_images.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys: one image's checksum would silently vanish
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def load_embedded_images() -> dict[str, dict[str, str]]:
    """{folder: {path inside it: sha256}}, or one error naming the file and the fix."""
    source = resources.files(__package__).joinpath(DATA_FILE)
    try:
        data = json.loads(source.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
        if not isinstance(data, dict) or not all(
                isinstance(images, dict) and all(isinstance(name, str) and isinstance(digest, str)
                                                 and _SHA256.fullmatch(digest)
                                                 for name, digest in images.items())
                for images in data.values()):
            raise ValueError("expected {folder: {image path: sha256 in 64 hex digits}}")
    except (OSError, ValueError) as exc:
        raise CompbenchError(f"the embedded images' checksums {source} cannot be read ({exc}): "
                             f"restore it (git checkout -- compbench/{DATA_FILE}) or reinstall "
                             "compbench") from exc
    return data


EMBEDDED_IMAGES: dict[str, dict[str, str]] = load_embedded_images()
