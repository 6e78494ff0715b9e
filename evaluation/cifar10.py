"""CIFAR-10 as plain arrays, whichever of the two public layouts the user has.

Two layouts exist in the wild: the canonical python batches (``cifar-10-batches-py``) and the
embedded JPEG copy (``cifar10/{train,test}.zip``). Their pixels differ (JPEG quality ~75), so
accuracies measured on one are not comparable with the other; ``CifarSplit.source`` says which one
was read so callers can label their numbers.

Decoding 60 000 JPEGs is slow (docs/studies/design-measurements.md), so decoded pixels are
cached as ``.npz`` files keyed by the zip's sha256: a changed zip can never be served stale
pixels, and the cache is shared by every clone on the machine. Each file is sealed like the
artifact cache's manifests: it holds the sha256 of its pixels and its own name, recorded when
it was written, so a truncated, edited or renamed file is decoded again (with a warning) instead
of being scored as the test set. Labels are not cached because the zip's name list gives them
for free.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from compbench.assets import sha256_of
from compbench.cache import CacheWarning
from compbench.errors import AssetCorrupt, AssetMissing
from compbench.settings import resolve_cache_dir

CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer",
                            "dog", "frog", "horse", "ship", "truck")
Split = Literal["train", "test"]
BATCHES_DIRNAME = "cifar-10-batches-py"
_BATCH_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_HOW_TO_GET = ("Get CIFAR-10 from https://www.cs.toronto.edu/~kriz/cifar.html (the python version, "
               "cifar-10-python.tar.gz, extracted to <root>/cifar-10-batches-py/) or use the "
               "embedded JPEG copy (<assets>/cifar10/{train,test}.zip).")


@dataclass(frozen=True)
class CifarSplit:
    """One split: ``images`` uint8 N×32×32×3 RGB, ``labels`` int64 N, and the file(s) read."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray | slice) -> CifarSplit:
        return CifarSplit(self.images[indices], self.labels[indices], self.source)


def load_cifar10(root: Path | str, split: Split, cache_dir: Path | str | None = None) -> CifarSplit:
    """Read ``split`` from ``root``; the python batches (canonical pixels) win if both are present.

    ``root`` may be the folder holding ``cifar-10-batches-py/`` or ``cifar10/``, or either of
    those folders itself, so users can point at whatever they extracted.
    """
    if split not in _BATCH_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    root = Path(root)
    batches = _find_batches(root, split)
    if batches is not None:
        return _read_batches(batches, split)
    archive = _find_zip(root, split)
    if archive is not None:
        cache = Path(cache_dir) if cache_dir is not None else resolve_cache_dir() / "datasets"
        return _read_zip(archive, split, cache)
    raise AssetMissing(
        f"CIFAR-10 {split} split not found under {root}: expected {root / BATCHES_DIRNAME}/"
        f"{{{','.join(_BATCH_FILES[split])}}} or {root / 'cifar10' / (split + '.zip')}. "
        + _HOW_TO_GET)


def split_files(root: Path | str, split: Split) -> list[Path]:
    """The files ``load_cifar10(root, split)`` reads: what identifies the data it scores."""
    root = Path(root)
    found = _find_batches(root, split) or [_find_zip(root, split)]
    if found[0] is None:
        raise AssetMissing(f"CIFAR-10 {split} split not found under {root}. " + _HOW_TO_GET)
    return found


def fixed_subset(split: CifarSplit, size: int = 2000) -> CifarSplit:
    """Every (N/size)-th image: class-balanced on the class-sorted zip, unlike the first ``size``.

    The zip layout is sorted by class, so "the first 2 000 images" would be airplanes and cars
    only; a regular stride keeps the class mix of the full split and is just as reproducible.
    """
    step = max(1, len(split) // size)
    return split.subset(slice(0, step * size, step))


def top1_accuracy(logits_or_preds: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of correct top-1 predictions; accepts N×C scores or N predicted class ids.

    Taking both forms lets engines that only return class ids (e.g. some int8 runtimes) share
    the metric with those returning logits.
    """
    scores = np.asarray(logits_or_preds)
    truth = np.asarray(labels).reshape(-1)
    preds = scores.argmax(axis=1) if scores.ndim == 2 else scores.reshape(-1)
    if len(preds) != len(truth):
        raise ValueError(f"{len(preds)} predictions for {len(truth)} labels")
    if len(truth) == 0:
        raise ValueError("top-1 accuracy of an empty set is undefined")
    return float(np.mean(preds.astype(np.int64) == truth.astype(np.int64)))


# --- python batches -------------------------------------------------------------------------

def _find_batches(root: Path, split: Split) -> list[Path] | None:
    for folder in (root / BATCHES_DIRNAME, root):
        files = [folder / name for name in _BATCH_FILES[split]]
        if all(f.is_file() for f in files):
            return files
    return None


class _BatchUnpickler(pickle.Unpickler):
    """Loads only what a CIFAR-10 batch holds (a dict of bytes, lists and one uint8 array, as
    numpy 1 and 2 pickle it): any other class or function a pickle names would be called on
    load, so a crafted file beside the assets would run its author's code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never "
                                         "holds (refused: loading it would run that code)")
        return super().find_class(module, name)


def _read_batches(files: list[Path], split: Split) -> CifarSplit:
    images, labels = [], []
    for path in files:
        try:
            with path.open("rb") as handle:
                batch = _BatchUnpickler(handle, encoding="bytes").load()
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            batch_labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as exc:
            raise AssetCorrupt(f"cannot read CIFAR-10 batch {path}: {exc}. " + _HOW_TO_GET) from exc
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(batch_labels):
            raise AssetCorrupt(f"CIFAR-10 batch {path} has data of shape {data.shape} and "
                               f"{len(batch_labels)} labels, expected N×3072 and N. " + _HOW_TO_GET)
        # Rows are channel planes (R, G, B), each 32×32 row-major.
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    all_labels = np.concatenate(labels)
    if all_labels.min() < 0 or all_labels.max() >= len(CLASSES):
        raise AssetCorrupt(f"CIFAR-10 {split} batches in {files[0].parent} have labels outside 0..9.")
    return CifarSplit(np.ascontiguousarray(np.concatenate(images)), all_labels, str(files[0].parent))


# --- JPEG zip -------------------------------------------------------------------------------

def _find_zip(root: Path, split: Split) -> Path | None:
    for candidate in (root / "cifar10" / f"{split}.zip", root / f"{split}.zip"):
        if candidate.is_file():
            return candidate
    return None


def _zip_members(archive: zipfile.ZipFile, path: Path, split: Split) -> tuple[list[str], np.ndarray]:
    """Image members in deterministic order (class folder, then file name) and their labels."""
    keyed = []
    for name in archive.namelist():
        if name.endswith("/"):
            continue
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != split or parts[1] not in CLASSES:
            raise AssetCorrupt(f"unexpected member {name!r} in {path}: expected "
                               f"{split}/<class>/<name>.jpg with a CIFAR-10 class name.")
        keyed.append((parts[1], parts[2], name))
    if not keyed:
        raise AssetCorrupt(f"{path} holds no images. " + _HOW_TO_GET)
    keyed.sort()
    names = [name for _, _, name in keyed]
    labels = np.array([CLASSES.index(cls) for cls, _, _ in keyed], dtype=np.int64)
    return names, labels


def _read_zip(path: Path, split: Split, cache_dir: Path) -> CifarSplit:
    try:
        with zipfile.ZipFile(path) as archive:
            names, labels = _zip_members(archive, path, split)
            cache_file = cache_dir / f"cifar10-{split}-{sha256_of(path)}.npz"
            images = _load_cached(cache_file, len(names))
            if images is None:
                images = _decode_all(archive, names, path)
                _save_atomic(cache_file, images)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AssetCorrupt(f"cannot read CIFAR-10 archive {path}: {exc}. " + _HOW_TO_GET) from exc
    return CifarSplit(images, labels, str(path))


def _decode_all(archive: zipfile.ZipFile, names: list[str], path: Path) -> np.ndarray:
    images = np.empty((len(names), 32, 32, 3), dtype=np.uint8)
    for i, name in enumerate(tqdm(names, desc=f"decoding {path.name}", unit="img")):
        try:
            with Image.open(io.BytesIO(archive.read(name))) as img:
                pixels = np.asarray(img.convert("RGB"))
        except OSError as exc:
            raise AssetCorrupt(f"cannot decode {name} in {path}: {exc}. " + _HOW_TO_GET) from exc
        if pixels.shape != (32, 32, 3):
            raise AssetCorrupt(f"{name} in {path} is {pixels.shape}, expected 32×32×3.")
        images[i] = pixels
    return images


def _seal(images: np.ndarray, name: str) -> str:
    """sha256 of the pixels, their shape and the file's name (which carries the zip's sha256)."""
    digest = hashlib.sha256(f"{name}:{images.dtype}:{images.shape}:".encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()


def _load_cached(cache_file: Path, count: int) -> np.ndarray | None:
    """The cached pixels if they are still what was written, else None (then decoded again, with a
    warning when a damaged or altered file was there)."""
    try:
        stored = np.load(cache_file, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with stored:
            images, recorded = stored["images"], str(stored["seal"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        problem = f"it cannot be read: {exc}"
    else:
        if images.dtype != np.uint8 or images.shape != (count, 32, 32, 3):
            problem = f"it holds {images.dtype} {images.shape}, not {count}×32×32×3 uint8"
        elif recorded != _seal(images, cache_file.name):
            problem = "its pixels or name differ from the sha256 recorded when it was written"
        else:
            return images
    warnings.warn(f"decoded CIFAR-10 cache {cache_file} is damaged or was altered ({problem}): "
                  "the archive is decoded again and the file rewritten", CacheWarning, stacklevel=4)
    return None


def _save_atomic(cache_file: Path, images: np.ndarray) -> None:
    """Write via a temp file + rename so a concurrent reader never sees half a file.

    A cache that cannot be written (read-only home, full disk) only costs time, so it is not fatal.
    """
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=cache_file.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, images=images, seal=np.array(_seal(images, cache_file.name)))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared between users
        os.replace(tmp, cache_file)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
