"""The CIFAR-10 reader: exact pixels from the python batches, stable order and cache for the zip."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compbench.errors import AssetCorrupt, AssetMissing
from compbench.evaluation.cifar10 import CLASSES, fixed_subset, load_cifar10, top1_accuracy


def _write_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    with path.open("wb") as handle:
        pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, handle)


def _make_batches(root: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A miniature cifar-10-batches-py; returns the raw rows and labels written per split."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written: dict[str, list] = {"train": [[], []], "test": [[], []]}
    names = [("train", f"data_batch_{i}") for i in range(1, 6)] + [("test", "test_batch")]
    for split, name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        _write_batch(folder / name, data, labels)
        written[split][0].append(data)
        written[split][1].extend(labels)
    return {split: (np.concatenate(rows), np.array(labels))
            for split, (rows, labels) in written.items()}


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("split", ["train", "test"])
def test_python_batches_give_exact_pixels_and_labels(tmp_path: Path, split: str) -> None:
    rows, labels = _make_batches(tmp_path)[split]
    data = load_cifar10(tmp_path, split)
    assert data.images.dtype == np.uint8 and data.labels.dtype == np.int64
    assert data.images.shape == (len(rows), 32, 32, 3)
    np.testing.assert_array_equal(data.labels, labels)
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
    for i in range(len(rows)):
        for channel in range(3):
            plane = rows[i, channel * 1024:(channel + 1) * 1024].reshape(32, 32)
            np.testing.assert_array_equal(data.images[i, :, :, channel], plane)


def test_batches_folder_itself_is_accepted(tmp_path: Path) -> None:
    rows, _ = _make_batches(tmp_path)["test"]
    data = load_cifar10(tmp_path / "cifar-10-batches-py", "test")
    assert len(data) == len(rows)


def test_corrupt_batch_is_asset_corrupt(tmp_path: Path) -> None:
    _make_batches(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(AssetCorrupt, match="test_batch"):
        load_cifar10(tmp_path, "test")


def test_missing_dataset_names_path_and_source(tmp_path: Path) -> None:
    with pytest.raises(AssetMissing) as info:
        load_cifar10(tmp_path / "nowhere", "test")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message
    assert "cifar-10-batches-py" in message and "cs.toronto.edu" in message


def test_zip_order_labels_and_cache(tmp_path: Path) -> None:
    """Members are read class-sorted then name-sorted whatever their order in the archive."""
    colors = {("truck", "0001.jpg"): (200, 10, 10), ("airplane", "0002.jpg"): (10, 200, 10),
              ("airplane", "0000.jpg"): (10, 10, 200), ("cat", "0000.jpg"): (90, 90, 90)}
    archive = tmp_path / "cifar10" / "test.zip"
    archive.parent.mkdir()
    blobs = {key: _jpeg(color) for key, color in colors.items()}
    with zipfile.ZipFile(archive, "w") as handle:
        for (cls, name), blob in blobs.items():
            handle.writestr(f"test/{cls}/{name}", blob)
    cache = tmp_path / "cache"

    data = load_cifar10(tmp_path, "test", cache_dir=cache)
    order = [("airplane", "0000.jpg"), ("airplane", "0002.jpg"), ("cat", "0000.jpg"),
             ("truck", "0001.jpg")]
    np.testing.assert_array_equal(data.labels, [CLASSES.index(cls) for cls, _ in order])
    for i, key in enumerate(order):
        expected = np.asarray(Image.open(io.BytesIO(blobs[key])).convert("RGB"))
        np.testing.assert_array_equal(data.images[i], expected)
    cached = list(cache.glob("cifar10-test-*.npz"))
    assert len(cached) == 1 and not list(cache.glob("*.tmp"))

    again = load_cifar10(tmp_path, "test", cache_dir=cache)
    np.testing.assert_array_equal(again.images, data.images)

    with zipfile.ZipFile(archive, "a") as handle:  # new content → new cache key, never stale
        handle.writestr("test/dog/0000.jpg", _jpeg((0, 0, 0)))
    grown = load_cifar10(tmp_path, "test", cache_dir=cache)
    assert len(grown) == 5 and len(list(cache.glob("cifar10-test-*.npz"))) == 2


def test_zip_with_foreign_member_is_corrupt(tmp_path: Path) -> None:
    archive = tmp_path / "test.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("test/unicorn/0000.jpg", _jpeg((1, 2, 3)))
    with pytest.raises(AssetCorrupt, match="unicorn"):
        load_cifar10(tmp_path, "test", cache_dir=tmp_path / "cache")


def test_real_test_zip(asset_file, tmp_path: Path) -> None:
    archive = asset_file("cifar10/test.zip")
    data = load_cifar10(archive.parent.parent, "test", cache_dir=tmp_path)
    assert data.images.shape == (10_000, 32, 32, 3) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(data.labels, minlength=10), [1000] * 10)
    assert np.all(np.diff(data.labels) >= 0)  # class-sorted
    with zipfile.ZipFile(archive) as handle:
        first = np.asarray(Image.open(io.BytesIO(handle.read("test/airplane/0000.jpg"))))
        last = np.asarray(Image.open(io.BytesIO(handle.read("test/truck/0999.jpg"))))
    np.testing.assert_array_equal(data.images[0], first)
    np.testing.assert_array_equal(data.images[-1], last)

    subset = fixed_subset(data)
    np.testing.assert_array_equal(np.bincount(subset.labels, minlength=10), [200] * 10)


def test_top1_accuracy_accepts_logits_or_predictions() -> None:
    labels = np.array([0, 1, 2, 3])
    logits = np.eye(4)[[0, 1, 0, 3]]
    assert top1_accuracy(logits, labels) == 0.75
    assert top1_accuracy(np.array([0, 1, 2, 0]), labels) == 0.75
    with pytest.raises(ValueError):
        top1_accuracy(np.array([0, 1]), labels)


def test_python_batches_beside_the_zips_are_what_the_task_scores_and_keys(asset_file,
                                                                           tmp_path: Path) -> None:
    """The full-data profile: python batches added to an assets folder win over the JPEG zips,
    so the task's data line and cache keys must name them (an evaluation cached for the JPEG
    copy must never be served for the original pixels)."""
    from compbench.assets import Assets
    from compbench.models.cifar.sources import resnet20_preprocessor
    from compbench.tasks.cifar10 import TEST_ZIP, TRAIN_ZIP, Cifar10Task

    root = tmp_path / "assets"
    for relpath in (TEST_ZIP, TRAIN_ZIP):
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).symlink_to(asset_file(relpath))

    def task() -> Cifar10Task:
        assets = Assets(root)
        return Cifar10Task(assets, resnet20_preprocessor(assets), "resnet20")

    jpeg = task()
    assert "JPEG copy" in jpeg.data_description
    jpeg_keys = jpeg.fingerprint()["test"], jpeg.calibration_fingerprint()["train"]
    rows, labels = _make_batches(root)["test"]
    batches = task()
    assert batches.data_description.startswith("CIFAR-10 test split of the original python")
    assert batches.fingerprint()["test"] != jpeg_keys[0]
    assert batches.calibration_fingerprint()["train"] != jpeg_keys[1]
    np.testing.assert_array_equal(batches.test.labels, labels)
