"""The gzip size of an artifact, kept in the cache folder by the content of each file
(runner/gzip_size.py): the same number as compressing it, and a damaged or edited record is
measured again rather than served."""

from __future__ import annotations

import gzip
import json

import pytest

from compbench.cache import ArtifactCache
from compbench.formats.artifacts import artifact_in
from compbench.runner import gzip_size
from compbench.settings import REPO_ROOT

WEIGHTS = REPO_ROOT / "models" / "cifar" / "weights"


@pytest.fixture
def artifact(tmp_path):
    """An OpenVINO-like artifact of two real files (two of the repository's weight files)."""
    folder = tmp_path / "artifact"
    folder.mkdir()
    sources = sorted(p for p in WEIGHTS.iterdir() if p.is_file())[:2]
    assert len(sources) == 2, sources
    (folder / "model.xml").write_bytes(sources[0].read_bytes())
    (folder / "model.bin").write_bytes(sources[1].read_bytes())
    gzip_size._IN_PROCESS.clear()
    yield artifact_in(folder, "openvino")
    gzip_size._IN_PROCESS.clear()


def compressed(artifact) -> int:
    return sum(len(gzip.compress(p.read_bytes(), compresslevel=9, mtime=0)) for p in artifact.files)


def records(cache: ArtifactCache) -> list:
    return sorted((cache.root / gzip_size.FOLDER).rglob("*.json"))


def test_the_size_is_gzip_level_9_of_every_file_and_is_kept_by_content(artifact, tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    assert gzip_size.gzip_size_bytes(artifact, cache) == compressed(artifact)
    kept = records(cache)
    assert len(kept) == 2
    assert {json.loads(r.read_text())["sha256"] for r in kept} == {r.stem for r in kept}
    gzip_size._IN_PROCESS.clear()   # as a later session: read back from the records
    assert gzip_size.gzip_size_bytes(artifact, cache) == compressed(artifact)


@pytest.mark.parametrize("damage", ["not json", "edited size", "wrong level"])
def test_a_damaged_or_edited_record_is_measured_again_and_rewritten(artifact, tmp_path, damage):
    cache = ArtifactCache(tmp_path / "cache")
    gzip_size.gzip_size_bytes(artifact, cache)
    record = records(cache)[0]
    data = json.loads(record.read_text())
    if damage == "not json":
        record.write_text("{")
    elif damage == "edited size":
        record.write_text(json.dumps(data | {"gzip_size_bytes": 1}))
    else:
        record.write_text(json.dumps(data | {"level": 1}))
    gzip_size._IN_PROCESS.clear()
    assert gzip_size.gzip_size_bytes(artifact, cache) == compressed(artifact)
    assert json.loads(record.read_text()) == data


def test_a_cache_folder_that_cannot_keep_records_still_gives_the_size(artifact, tmp_path):
    """(a file where the records' folder should be: writing fails as on a read-only or full disk,
    also for root)"""
    cache = ArtifactCache(tmp_path / "cache")
    cache.root.mkdir()
    (cache.root / gzip_size.FOLDER).write_text("not a folder")
    assert gzip_size.gzip_size_bytes(artifact, cache) == compressed(artifact)
