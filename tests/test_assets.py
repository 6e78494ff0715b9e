"""Asset resolution and verification: missing files skip with directions, corrupt ones fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compbench.assets import MANIFEST, Assets, parse_overrides, sha256_of
from compbench.errors import AssetCorrupt, AssetMissing
from compbench.settings import ASSETS_ENV, REPO_ROOT, resolve_assets_dir

WEIGHTS = "scrfd/SCRFD_500M_KPS.pth"


def test_default_is_shared_assets_next_to_repo(monkeypatch):
    monkeypatch.delenv(ASSETS_ENV, raising=False)
    assert resolve_assets_dir() == (REPO_ROOT / "../shared/assets").resolve()


def test_env_and_explicit_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(ASSETS_ENV, str(tmp_path / "env"))
    assert resolve_assets_dir() == tmp_path / "env"
    assert resolve_assets_dir(tmp_path / "cli") == tmp_path / "cli"


def test_missing_file_names_it_and_where_to_get_it(tmp_path):
    with pytest.raises(AssetMissing) as info:
        Assets(tmp_path).file(WEIGHTS)
    message = str(info.value)
    assert str(tmp_path / WEIGHTS) in message
    assert "insightface" in message and ASSETS_ENV in message


def test_missing_directory(tmp_path):
    with pytest.raises(AssetMissing, match="WIDER_val/images"):
        Assets(tmp_path).directory("widerface/WIDER_val/images")


def test_checksum_mismatch_is_an_error_naming_the_file(tmp_path):
    target = tmp_path / WEIGHTS
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the published weights")
    with pytest.raises(AssetCorrupt) as info:
        Assets(tmp_path).file(WEIGHTS)
    assert str(target) in str(info.value) and "checksum mismatch" in str(info.value)


def test_real_assets_verify(assets):
    """Every manifest entry is there and intact: a folder with some files missing is a broken
    install (the bench refuses it), not a partial pass."""
    status = assets.check_all()
    if all("not found" in v for v in status.values()):
        pytest.skip(f"no assets folder at {assets.root}")
    problems = {k: v for k, v in status.items() if v != "ok"}
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_truncated_copy_is_detected(asset_file, tmp_path):
    source = asset_file("cifar10/models/mlperf_tiny_resnet8.h5")
    copy = tmp_path / "cifar10/models/mlperf_tiny_resnet8.h5"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(source, copy)
    assert Assets(tmp_path).file("cifar10/models/mlperf_tiny_resnet8.h5") == copy
    copy.write_bytes(Path(source).read_bytes()[:1000])
    with pytest.raises(AssetCorrupt):
        Assets(tmp_path).file("cifar10/models/mlperf_tiny_resnet8.h5")


def test_manifest_checksums_are_well_formed():
    for spec in MANIFEST.values():
        assert spec.sha256 is None or len(spec.sha256) == 64
    assert sha256_of(REPO_ROOT / "pyproject.toml") == sha256_of(REPO_ROOT / "pyproject.toml")


def test_override_replaces_one_file_without_checksum(tmp_path, monkeypatch):
    other = tmp_path / "other.pth"
    other.write_bytes(b"fine-tuned weights")
    assets = Assets(tmp_path / "root", parse_overrides([f"{WEIGHTS}={other}"]))
    assert assets.file(WEIGHTS) == other
    monkeypatch.setenv("COMPBENCH_ASSET_OVERRIDES", f"{WEIGHTS}={tmp_path / 'absent.pth'}")
    with pytest.raises(AssetMissing, match="absent.pth"):
        Assets(tmp_path / "root").file(WEIGHTS)
    with pytest.raises(ValueError, match="RELPATH=PATH"):
        parse_overrides(["no-equals-sign"])
