"""Cache entries follow what their step really imported: editing a module or upgrading a
library rebuilds exactly the entries whose step loaded it, and nothing else.

Runs the real pipeline (ResNet-20 fp32 → ONNX → onnxruntime, on a 500-image slice of the real
CIFAR-10 test zip) in a throw-away copy of the project, so the edits never touch this checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from compbench.settings import REPO_ROOT

# compbench and the folders its wheel maps under it (bench/: only its suite.py, below)
PACKAGES = ("compbench", *(folder for folder in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())[
    "tool"]["setuptools"]["package-dir"].values() if folder != "bench"))
VARIANT = "resnet20/fp32/onnxruntime"
DRIVER = """
import json, sys
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.matrix import get_variant
assets = Assets(sys.argv[1], {"cifar10/test.zip": __import__("pathlib").Path(sys.argv[3])})
pipeline = VariantPipeline(get_variant(sys.argv[4]), assets, ArtifactCache(sys.argv[2]))
pipeline.prepare()
print(json.dumps(pipeline.accuracy()))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, asset_file) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.h5", "*.safetensors"))
    # the project: its configuration names the built-in suite's declarations (bench/suite.py)
    shutil.copy(REPO_ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "bench").mkdir()
    shutil.copy(REPO_ROOT / "bench" / "suite.py", copy / "bench" / "suite.py")
    small = copy / "data" / "cifar10" / "test.zip"
    small.parent.mkdir(parents=True)
    with zipfile.ZipFile(asset_file("cifar10/test.zip")) as full, \
            zipfile.ZipFile(small, "w") as out:
        names = sorted(n for n in full.namelist() if n.endswith(".jpg"))
        for name in names[::20]:  # 500 images, every class
            out.writestr(name, full.read(name))
    return copy


def run(project: Path, cache: Path, extra_path: Path | None = None) -> dict:
    from compbench.assets import Assets

    path = [str(project)] + ([str(extra_path)] if extra_path else [])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache.parent), "COMPBENCH_CACHE": str(cache),
           "PYTHONPATH": ":".join(path)}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(Assets().root), str(cache),
                           str(project / "data" / "cifar10" / "test.zip"), VARIANT],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def entries(cache: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for meta in cache.glob("*/*/*/*/.entry.json"):
        found.setdefault(meta.parent.parent.parent.parent.name, set()).add(str(meta.parent))
    return found


def touch(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited by the test\n")


def test_edits_and_upgrades_rebuild_exactly_what_used_them(project, tmp_path):
    cache = tmp_path / "cache"
    first = run(project, cache)
    before = entries(cache)
    assert {k: len(v) for k, v in before.items()} == {"recipes": 1, "converted": 1, "accuracy": 1}

    def rebuilt() -> set[str]:
        nonlocal before
        now = entries(cache)
        changed = {kind for kind in now if now[kind] - before.get(kind, set())}
        before = now
        return changed

    touch(project / "runner" / "report.py")              # imported by no step
    assert run(project, cache) == first and rebuilt() == set()

    touch(project / "engines" / "torchscript.py")        # another engine: an evaluation
    assert run(project, cache) == first and rebuilt() == set()  # loads its own engine only

    touch(project / "engines" / "onnxruntime_cpu.py")    # only the evaluation loads it
    assert run(project, cache) == first and rebuilt() == {"accuracy"}

    touch(project / "compression" / "fp32.py")           # only the recipe; same bytes out, so
    assert run(project, cache) == first                  # the conversion and evaluation are
    assert rebuilt() == {"recipes"}                      # reused (keyed by content)

    touch(project / "formats" / "torch_to_onnx.py")      # a lazy import
    assert run(project, cache) == first and rebuilt() == {"converted"}

    touch(project / "models" / "cifar" / "resnet20.py")  # every step unpickles the model
    assert run(project, cache) == first and rebuilt() == {"recipes", "converted", "accuracy"}

    # a different onnxruntime version on the path: only the evaluation imported it
    fake = tmp_path / "site"
    (fake / "onnxruntime-99.0.dist-info").mkdir(parents=True)
    (fake / "onnxruntime-99.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: onnxruntime\nVersion: 99.0\n")
    run(project, cache, extra_path=fake)
    assert rebuilt() == {"accuracy"}
