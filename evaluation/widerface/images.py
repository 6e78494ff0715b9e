"""The val images in the official layout ``WIDER_val/images/<event>/<name>.jpg``.

Keys are ``"<event>/<name>"``, the same keys as the ground truth and the prediction files, so a
detector run over ``list_images`` produces exactly the entries the evaluator looks up.
"""

from __future__ import annotations

import os
from pathlib import Path

from compbench.errors import AssetCorrupt, AssetMissing

IMAGE_SUFFIX = ".jpg"


def is_dangling(path: Path) -> bool:
    """A symbolic link whose target is gone: neither a file nor a folder, yet listed."""
    return path.is_symlink() and not path.exists()


def path_problem(path: Path, folder: bool) -> str | None:
    """Why ``path`` is not the folder (or file) it should be, or None if it is one.

    Shared by the WIDER readers and writers: ``is_dir()`` and ``is_file()`` are both False for
    a broken link or the wrong kind of entry, and "not found" would send the user looking for a
    file that is right there.
    """
    if is_dangling(path):
        return f"{path} is a broken symbolic link (to {os.readlink(path)})"
    if not path.exists():
        return f"{path} does not exist"
    if folder and not path.is_dir():
        return f"{path} is a file, not a folder"
    if not folder and path.is_dir():
        return f"{path} is a folder, not a file"
    return None


def list_folder(path: Path, error: type[Exception] = AssetCorrupt) -> list[Path]:
    """The entries of ``path``; an unreadable folder raises ``error`` naming it, not OSError."""
    try:
        return list(path.iterdir())
    except OSError as exc:
        raise error(f"cannot list the folder {path} ({exc.strerror}): check its permissions "
                    f"(it must be readable and searchable, e.g. chmod u+rx).") from exc


def images_dir(root: str | Path) -> Path:
    """Accept ``.../WIDER_val`` as well as ``.../WIDER_val/images``: both are in common use."""
    root = Path(root)
    nested = root / "images"
    if nested.is_dir():
        return nested
    if root.is_dir():
        return root
    expected = "expected WIDER_val or WIDER_val/images, holding <event>/<name>.jpg"
    if not root.exists() and not root.is_symlink():
        raise AssetMissing(f"WIDER FACE image folder not found: {root} ({expected}).")
    raise AssetCorrupt(f"WIDER FACE image folder not usable: {path_problem(root, folder=True)} "
                       f"({expected}).")


def _image_entries(event_dir: Path) -> list[Path]:
    """The ``.jpg`` entries of one event folder; one that cannot be an image is an error now,
    not a decode failure in the middle of a long inference run."""
    found = []
    for path in list_folder(event_dir):
        if path.suffix.lower() != IMAGE_SUFFIX or path.name.startswith("."):
            continue
        problem = path_problem(path, folder=False)
        if problem:
            raise AssetCorrupt(f"{problem}: expected a JPEG image there; replace or remove it.")
        found.append(path)
    return found


def list_images(root: str | Path) -> list[tuple[str, Path]]:
    """``(key, path)`` of every ``<event>/<name>.jpg`` under ``root``, sorted by key.

    Sorted so runs are reproducible whatever order the file system returns; hidden entries are
    skipped (macOS and editors litter folders with them).
    """
    base = images_dir(root)
    found = []
    for event_dir in list_folder(base):
        if not event_dir.is_dir() or event_dir.name.startswith("."):
            continue
        found.extend((f"{event_dir.name}/{path.stem}", path) for path in _image_entries(event_dir))
    if not found:
        raise AssetMissing(f"no <event>/<name>.jpg images under {base} (expected the official "
                           f"WIDER_val/images layout).")
    found.sort(key=lambda item: item[0])
    return found
