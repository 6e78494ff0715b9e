"""A damaged evaluation image is named, never blamed on the model.

A JPEG with a block zeroed in the middle keeps its header and end marker and still decodes, into
wrong pixels: the run used to report the variant as a regression of its AP. The tests build a
real assets folder in ``tmp_path`` out of symbolic links to the real one, with the damaged file
a real copy, so nothing but that file differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compbench.assets import Assets, parse_overrides
from compbench.errors import AssetCorrupt
from compbench.settings import REPO_ROOT

EVAL_IMAGES = "widerface/WIDER_val/images"
VICTIM = "0--Parade/0_Parade_Parade_0_102.jpg"
VARIANT = "scrfd_500m_kps/fp32/torch"


def zero_the_middle(source: Path, target: Path) -> None:
    """A copy of ``source`` with 4 KiB zeroed halfway: intact header and end marker."""
    data = source.read_bytes()
    middle = len(data) // 2
    target.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096:])


def truncate(source: Path, target: Path) -> None:
    target.write_bytes(source.read_bytes()[:-5000])


def leave_out(source: Path, target: Path) -> None:
    pass


def assets_copy(tmp_path: Path, real: Path, change: Callable[[Path, Path], None]) -> Path:
    """The real assets folder as links, except ``EVAL_IMAGES/VICTIM``: ``change(source, target)``
    writes it (or not)."""
    root = tmp_path / "assets"
    (root / "widerface").mkdir(parents=True)
    for entry in real.iterdir():
        if entry.name != "widerface":
            (root / entry.name).symlink_to(entry)
    for entry in (real / "widerface").iterdir():
        if entry.name != "WIDER_val":
            (root / "widerface" / entry.name).symlink_to(entry)
    images = real / EVAL_IMAGES
    for source in sorted(images.rglob("*.jpg")):
        name = str(source.relative_to(images))
        target = root / EVAL_IMAGES / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == VICTIM:
            change(source, target)
        else:
            target.symlink_to(source)
    return root


@pytest.fixture
def real_assets(asset_dir, assets) -> Path:
    asset_dir(EVAL_IMAGES)
    asset_dir("widerface/calib/images")
    return assets.root


def test_zeroed_block_is_named_not_decoded(tmp_path, real_assets):
    from compbench.tasks.widerface import WiderFaceTask, read_image

    root = assets_copy(tmp_path, real_assets, zero_the_middle)
    damaged = root / EVAL_IMAGES / VICTIM
    original = read_image(real_assets / EVAL_IMAGES / VICTIM)
    assert np.abs(read_image(damaged).astype(int) - original).mean() > 10  # decodes, wrong pixels
    with pytest.raises(AssetCorrupt) as info:
        WiderFaceTask(Assets(root))
    message = str(info.value)
    assert message.startswith(f"image {damaged} is damaged: sha256 ")
    assert f"for the embedded {EVAL_IMAGES}/{VICTIM}" in message
    assert "Replace it with the file of the same name from an intact copy of the embedded " \
           "assets folder" in message


def test_truncated_image_in_an_override_folder_is_named(tmp_path, real_assets):
    """A partial copy of the mini set given with --asset: held to the checksums it has."""
    from compbench.tasks.widerface import WiderFaceTask

    folder = assets_copy(tmp_path, real_assets, truncate) / EVAL_IMAGES
    assets = Assets(real_assets, parse_overrides([f"{EVAL_IMAGES}={folder}"]))
    for extra in sorted(folder.glob("1--*")):   # a part of the set only: no error for that
        for link in extra.iterdir():
            link.unlink()
        extra.rmdir()
    with pytest.raises(AssetCorrupt, match=rf"^image {folder / VICTIM} is damaged: sha256 "):
        WiderFaceTask(assets)


def test_a_missing_image_of_the_assets_folder_is_named(tmp_path, real_assets):
    root = assets_copy(tmp_path, real_assets, leave_out)
    with pytest.raises(AssetCorrupt) as info:
        Assets(root).directory(EVAL_IMAGES)
    assert str(info.value).startswith(
        f"{root / EVAL_IMAGES} lacks 1 of the 100 embedded images (e.g. {VICTIM}), as an "
        f"interrupted copy would")


def test_another_release_under_the_same_names_is_not_held_to_them(tmp_path, real_assets):
    """The full WIDER release has the mini set's names with other bytes (the originals), and
    more names: it is another data set, not a damaged copy."""
    root = assets_copy(tmp_path, real_assets, zero_the_middle)
    other = root / EVAL_IMAGES / "0--Parade" / "0_Parade_marchingband_1_1045.jpg"
    other.symlink_to(real_assets / EVAL_IMAGES / VICTIM)
    assert Assets(root).directory(EVAL_IMAGES) == root / EVAL_IMAGES


def test_the_assets_command_names_the_damaged_image(tmp_path, real_assets):
    root = assets_copy(tmp_path, real_assets, zero_the_middle)
    result = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "assets", "--assets", str(root)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout
    assert f"BAD {EVAL_IMAGES}\n      image {root / EVAL_IMAGES / VICTIM} is damaged" in result.stdout


def test_a_bench_session_names_the_image_before_any_build(tmp_path, real_assets):
    """The session that blamed the model now stops before it (exit 3) and names the file."""
    root = assets_copy(tmp_path, real_assets, zero_the_middle)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_accuracy.py", "-q", "-p", "no:randomly",
         "-k", VARIANT, "--assets", str(root), "--baselines-dir", str(tmp_path),
         "--report-dir", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COMPBENCH_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 3, result.stdout[-3000:]
    assert "cannot be gated, nothing was run" in result.stdout
    assert f"image {root / EVAL_IMAGES / VICTIM} is damaged" in result.stdout
    assert "REGRESSION" not in result.stdout and "Traceback" not in result.stdout
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.onnx"))


def test_a_damaged_cifar_member_is_named(tmp_path, asset_file):
    """The zip's CRC catches a damaged member of a user's own archive (the embedded one is
    checksummed whole): an error naming the member, not wrong pixels."""
    from compbench.evaluation.cifar10 import load_cifar10

    source = asset_file("cifar10/test.zip")
    with zipfile.ZipFile(source) as archive:
        member = next(info for info in archive.infolist() if not info.is_dir())
        data = bytearray(source.read_bytes())
    # the member's data starts after its local header (30 bytes + name + extra field)
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    data[start + member.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "cifar10" / "test.zip"
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(data))
    with pytest.raises(AssetCorrupt) as info:
        load_cifar10(tmp_path, "test", cache_dir=tmp_path / "cache")
    assert str(info.value).startswith(f"cannot read CIFAR-10 archive {damaged}: Bad CRC-32 for "
                                      f"file {member.filename!r}")
