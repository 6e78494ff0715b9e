"""The content-addressed cache builds once, and never exposes a half-built entry."""

from __future__ import annotations

import json

import pytest

from compbench.cache import ArtifactCache, cache_key


def test_key_is_order_independent_and_content_sensitive():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_directory_is_built_once(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def build(out):
        calls.append(out)
        (out / "model.onnx").write_bytes(b"x")

    first = cache.directory("recipes", {"k": 1}, build)
    second = cache.directory("recipes", {"k": 1}, build)
    assert first == second and len(calls) == 1
    assert (first / "model.onnx").read_bytes() == b"x"
    assert json.loads((first / "meta.json").read_text())["parts"] == {"k": 1}


def test_failed_build_leaves_nothing(tmp_path):
    cache = ArtifactCache(tmp_path)

    def broken(out):
        (out / "partial").write_bytes(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.directory("recipes", {"k": 2}, broken)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_json_values_are_cached_and_damaged_entries_recomputed(tmp_path):
    cache = ArtifactCache(tmp_path)
    values = iter([{"ap": 0.5}, {"ap": 0.6}])
    assert cache.json_value("accuracy", {"k": 3}, lambda: next(values)) == {"ap": 0.5}
    assert cache.json_value("accuracy", {"k": 3}, lambda: next(values)) == {"ap": 0.5}
    entry = next(tmp_path.rglob("*.json"))
    entry.write_text("{broken")
    assert cache.json_value("accuracy", {"k": 3}, lambda: next(values)) == {"ap": 0.6}
