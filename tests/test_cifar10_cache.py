"""The decoded CIFAR-10 pixels cached beside the artifact cache are checked against the sha256
recorded when they were written: a damaged or edited file is decoded again with a warning naming
it, never scored as the test set."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from compbench.cache import CacheWarning
from compbench.evaluation.cifar10 import load_cifar10
from tests.test_cifar10_reader import _jpeg


def decoded_once(tmp_path: Path) -> tuple[np.ndarray, Path, Path]:
    archive = tmp_path / "cifar10" / "test.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as handle:
        for i, cls in enumerate(("airplane", "cat", "truck")):
            handle.writestr(f"test/{cls}/000{i}.jpg", _jpeg((40 * i, 200 - 50 * i, 90)))
    cache = tmp_path / "cache"
    pixels = load_cifar10(tmp_path, "test", cache_dir=cache).images
    [cache_file] = [p for p in cache.iterdir() if p.name.startswith("cifar10-test-")]
    return pixels, cache, cache_file


def reads_back_with_a_warning(tmp_path: Path, cache: Path, cache_file: Path) -> np.ndarray:
    with pytest.warns(CacheWarning, match=f"{cache_file}.*damaged or was altered"):
        images = load_cifar10(tmp_path, "test", cache_dir=cache).images
    with warnings.catch_warnings():   # rewritten: the next read trusts it again, silently
        warnings.simplefilter("error", CacheWarning)
        load_cifar10(tmp_path, "test", cache_dir=cache)
    return images


def test_a_flipped_pixel_byte_in_the_cache_file_is_decoded_again(tmp_path):
    pixels, cache, cache_file = decoded_once(tmp_path)
    stored = bytearray(cache_file.read_bytes())
    at = bytes(stored).find(pixels.tobytes())   # the pixels are stored uncompressed
    assert at > 0
    stored[at + 100] ^= 0xFF
    cache_file.write_bytes(bytes(stored))
    np.testing.assert_array_equal(reads_back_with_a_warning(tmp_path, cache, cache_file), pixels)


def test_a_truncated_cache_file_is_decoded_again(tmp_path):
    pixels, cache, cache_file = decoded_once(tmp_path)
    cache_file.write_bytes(cache_file.read_bytes()[:len(pixels.tobytes()) // 2])
    np.testing.assert_array_equal(reads_back_with_a_warning(tmp_path, cache, cache_file), pixels)


def test_pixels_edited_into_a_well_formed_cache_file_are_caught_by_its_seal(tmp_path):
    pixels, cache, cache_file = decoded_once(tmp_path)
    with np.load(cache_file) as stored:
        seal = stored["seal"]
    edited = pixels.copy()
    edited[0, 0, 0] = 255 - edited[0, 0, 0]
    with cache_file.open("wb") as handle:
        np.savez(handle, images=edited, seal=seal)
    np.testing.assert_array_equal(reads_back_with_a_warning(tmp_path, cache, cache_file), pixels)
