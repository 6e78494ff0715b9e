"""The cache: one build per entry, nothing half-written, damaged entries rebuilt, never loaded."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest

from compbench.cache import ENTRY_FILE, ArtifactCache, CacheWarning, cache_key
from compbench.dependencies import loaded_dependencies


def test_key_is_order_independent_and_content_sensitive():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def builder(calls: list, payload: bytes = b"x", value=None):
    def run(out):
        calls.append(out)
        (out / "model.onnx").write_bytes(payload)
        (out / ".scratch").write_text("hidden files are not part of the entry")
        return value or {"format": "onnx"}, loaded_dependencies()
    return run


def test_entry_is_built_once_and_records_what_it_needs(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    calls: list = []
    first = cache.get_or_build("recipes", {"k": 1}, builder(calls))
    second = cache.get_or_build("recipes", {"k": 1}, builder(calls))
    assert first.path == second.path and len(calls) == 1
    assert (first.path / "model.onnx").read_bytes() == b"x"
    assert not (first.path / ".scratch").exists()
    meta = json.loads((first.path / ENTRY_FILE).read_text())
    assert meta["inputs"] == {"k": 1} and set(meta["files"]) == {"model.onnx"}
    assert "compbench/cache.py" in meta["dependencies"]["project"]
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_failed_build_leaves_nothing(tmp_path):
    cache = ArtifactCache(tmp_path)

    def broken(out):
        (out / "partial").write_bytes(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get_or_build("recipes", {"k": 2}, broken)
    assert not any(p.is_file() and not p.name.endswith(".lock") for p in tmp_path.rglob("*"))
    assert cache.lookup("recipes", {"k": 2}) is None


@pytest.mark.parametrize("damage", ["edit", "truncate", "delete", "extra", "entry-file"])
def test_damaged_or_altered_entry_is_rebuilt_with_a_warning(tmp_path, damage):
    cache = ArtifactCache(tmp_path)
    calls: list = []
    entry = cache.get_or_build("recipes", {"k": 3}, builder(calls, b"original"))
    target = entry.path / "model.onnx"
    if damage == "edit":
        target.write_bytes(b"tampered")
    elif damage == "truncate":
        target.write_bytes(b"orig")
    elif damage == "delete":
        target.unlink()
    elif damage == "extra":
        (entry.path / "evil.py").write_text("print('hi')")
    else:
        (entry.path / ENTRY_FILE).write_text("{broken")
    with pytest.warns(CacheWarning, match="damaged or was altered"):
        rebuilt = cache.get_or_build("recipes", {"k": 3}, builder(calls, b"original"))
    assert len(calls) == 2
    assert (rebuilt.path / "model.onnx").read_bytes() == b"original"


def test_stale_dependencies_are_a_miss_and_the_old_entry_is_kept(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls: list = []

    def run_with(deps):
        def run(out):
            calls.append(out)
            (out / "f").write_text(str(len(calls)))
            return {}, deps
        return run

    current = loaded_dependencies()
    stale = json.loads(json.dumps(current))
    stale["distributions"]["numpy"] = "0.0.1"
    old = cache.get_or_build("accuracy", {"k": 4}, run_with(stale))
    assert cache.lookup("accuracy", {"k": 4}) is None        # numpy 0.0.1 is not installed
    new = cache.get_or_build("accuracy", {"k": 4}, run_with(current))
    assert new.path != old.path and old.path.is_dir() and len(calls) == 2
    assert cache.lookup("accuracy", {"k": 4}).path == new.path


def test_concurrent_builders_of_one_entry_build_it_once(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls: list = []

    def slow(out):
        calls.append(out)
        time.sleep(0.5)
        (out / "m").write_text("m")
        return {}, loaded_dependencies()

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        cache.get_or_build("recipes", {"k": 5}, slow))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({r.path for r in results}) == 1


def test_a_cache_others_can_write_to_is_flagged(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o777)
    with pytest.warns(CacheWarning, match="writable by other users"):
        ArtifactCache(root).get_or_build("recipes", {"k": 6}, builder([]))


def test_vendored_folders_added_at_run_time_do_not_make_entries_unmatchable(tmp_path):
    """setuptools puts its ``_vendor`` folder (``backports.tarfile`` and others) on sys.path when
    imported; a step that recorded a version only visible there would miss forever (seen: the
    tfmot and NNCF recipes were rebuilt by every engine of their row)."""
    import subprocess
    import sys

    from compbench.dependencies import stale_reason
    from compbench.settings import REPO_ROOT

    vendor = tmp_path / "host" / "_vendor"
    (vendor / "vendoredthing").mkdir(parents=True)
    (vendor / "vendoredthing" / "__init__.py").write_text("")
    (vendor / "vendoredthing-1.0.dist-info").mkdir()
    (vendor / "vendoredthing-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vendoredthing\nVersion: 1.0\n")
    (vendor / "vendoredthing-1.0.dist-info" / "top_level.txt").write_text("vendoredthing\n")
    script = (f"import sys, json; start = list(sys.path); sys.path.insert(0, {str(vendor)!r}); "
              "import vendoredthing, numpy; "
              "from compbench.dependencies import loaded_dependencies; "
              "print(json.dumps(loaded_dependencies(start)))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True)
    recorded = json.loads(done.stdout)
    assert "vendoredthing" not in recorded["distributions"] and "numpy" in recorded["distributions"]
    assert stale_reason(recorded) is None


STEP_MODULE = '''
from compbench.settings import resolve_cache_dir

def run(request, out_dir):
    (out_dir / "made-by-step").write_text("x")
    return {"cache_seen_by_step": str(resolve_cache_dir())}
'''

SESSION = '''
import json, sys
from compbench.cache import ArtifactCache
from compbench.isolation import run_step

cache = ArtifactCache(sys.argv[1] or None)
entry = cache.get_or_build("recipes", {"k": 7},
                           lambda out: run_step("relstep:run", {}, out, "a relative cache"))
print(json.dumps({"root": str(cache.root), "entry": str(entry.path), **entry.value}))
'''


@pytest.mark.parametrize("given_as", ["option", "environment"])
def test_a_relative_cache_folder_typed_in_a_subfolder_is_that_folder_for_every_step(tmp_path,
                                                                                   given_as):
    """Steps run from the repository root: a cache path left relative named another folder
    there (the build failed, or a step's own lookups went elsewhere)."""
    import os
    import subprocess
    import sys

    from compbench.settings import CACHE_ENV, REPO_ROOT

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "relstep.py").write_text(STEP_MODULE)
    typed_in = tmp_path / "checkout" / "sub"
    typed_in.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != CACHE_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(tmp_path / "steps")])
    if given_as == "environment":
        env[CACHE_ENV] = "../rel-cache"
    option = "../rel-cache" if given_as == "option" else ""
    done = subprocess.run([sys.executable, "-c", SESSION, option], cwd=typed_in, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    expected = tmp_path / "checkout" / "rel-cache"
    assert seen["root"] == str(expected)
    assert Path(seen["entry"]).is_relative_to(expected)
    assert (Path(seen["entry"]) / "made-by-step").is_file()
    if given_as == "environment":   # the step process looks in the same folder as its parent
        assert seen["cache_seen_by_step"] == str(expected)


@pytest.mark.parametrize("edit", ["value", "inputs", "key-and-folder", "checksums"])
def test_an_edited_manifest_is_not_served_as_the_measurement(tmp_path, edit):
    """The step's result (an accuracy) is read from the manifest, not from a checked file: an
    edit there is damage like any other, rebuilt with a warning naming the entry."""
    cache = ArtifactCache(tmp_path)
    calls: list = []
    entry = cache.get_or_build("accuracy", {"k": 8}, builder(calls, value={"top1": 0.61}))
    manifest = entry.path / ENTRY_FILE
    meta = json.loads(manifest.read_text())
    if edit == "value":
        meta["value"]["top1"] = 0.99
    elif edit == "inputs":   # the seal recomputed: the key no longer matches the inputs
        meta["inputs"]["k"] = 9
        meta["seal"] = cache_key({name: meta[name] for name in ("kind", "key", "inputs", "value",
                                                                "files", "dependencies")})
    elif edit == "key-and-folder":   # a whole valid entry copied under another key
        other = cache.get_or_build("accuracy", {"k": 10}, builder(calls, value={"top1": 0.2}))
        meta = json.loads((other.path / ENTRY_FILE).read_text())
    else:
        meta["files"]["model.onnx"] = "0" * 64
    manifest.write_text(json.dumps(meta))
    with pytest.warns(CacheWarning, match=f"cache entry {entry.path} is damaged or was altered"):
        rebuilt = cache.get_or_build("accuracy", {"k": 8}, builder(calls, value={"top1": 0.61}))
    assert rebuilt.value == {"top1": 0.61}
    assert cache.lookup("accuracy", {"k": 8}).value == {"top1": 0.61}


def test_inputs_a_reader_could_not_check_are_refused_before_the_build(tmp_path):
    calls: list = []
    with pytest.raises(TypeError, match="string keys only"):
        ArtifactCache(tmp_path).get_or_build("recipes", {"bits": {8: "int8", 16: "fp16"}},
                                             builder(calls))
    assert not calls
