"""The val images in the official layout ``WIDER_val/images/<event>/<name>.jpg``.

Keys are ``"<event>/<name>"``, the same keys as the ground truth and the prediction files, so a
detector run over ``list_images`` produces exactly the entries the evaluator looks up.
"""

from __future__ import annotations

from pathlib import Path

from compbench.errors import AssetMissing

IMAGE_SUFFIX = ".jpg"


def images_dir(root: str | Path) -> Path:
    """Accept ``.../WIDER_val`` as well as ``.../WIDER_val/images``: both are in common use."""
    root = Path(root)
    nested = root / "images"
    if nested.is_dir():
        return nested
    if root.is_dir():
        return root
    raise AssetMissing(f"WIDER FACE image folder not found: {root} (expected WIDER_val or "
                       f"WIDER_val/images, holding <event>/<name>.jpg).")


def list_images(root: str | Path) -> list[tuple[str, Path]]:
    """``(key, path)`` of every ``<event>/<name>.jpg`` under ``root``, sorted by key.

    Sorted so runs are reproducible whatever order the file system returns; hidden entries are
    skipped (macOS and editors litter folders with them).
    """
    base = images_dir(root)
    found = []
    for event_dir in base.iterdir():
        if not event_dir.is_dir() or event_dir.name.startswith("."):
            continue
        for path in event_dir.iterdir():
            if path.suffix.lower() == IMAGE_SUFFIX and not path.name.startswith("."):
                found.append((f"{event_dir.name}/{path.stem}", path))
    if not found:
        raise AssetMissing(f"no <event>/<name>.jpg images under {base} (expected the official "
                           f"WIDER_val/images layout).")
    found.sort(key=lambda item: item[0])
    return found
