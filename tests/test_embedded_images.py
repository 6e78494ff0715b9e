"""The embedded images' checksums are a JSON data file shipped with the package: found where
compbench is installed from a wheel, and a damaged copy is one error naming the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from compbench.embedded_images import DATA_FILE, EMBEDDED_IMAGES
from compbench.settings import REPO_ROOT

SHOW = ("import json, compbench.embedded_images as m; "
        "print(json.dumps([m.__file__, m.EMBEDDED_IMAGES]))")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """compbench as a wheel built from this checkout's pyproject.toml installs it: unpacked."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    # compbench and the folders the wheel maps under it (pyproject.toml: package-dir)
    mapped = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"].values()
    for folder in ("compbench", *mapped):
        shutil.copytree(REPO_ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-c", "from setuptools import build_meta; "
                            f"print(build_meta.build_wheel({str(work)!r}))"],
                           cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    site = work / "site"
    with zipfile.ZipFile(work / built.stdout.strip().splitlines()[-1]) as wheel:
        wheel.extractall(site)
    return site


def run_installed(site: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", SHOW], cwd=site.parent, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_the_checksums_are_found_where_compbench_is_installed(installed):
    done = run_installed(installed)
    assert done.returncode == 0, done.stderr[-3000:]
    module_file, checksums = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(module_file).parent == installed / "compbench"   # not this checkout
    assert checksums == EMBEDDED_IMAGES and sum(map(len, checksums.values())) > 100


@pytest.mark.parametrize("damage, problem", [
    (lambda text: text[:len(text) // 2], "cannot be read"),
    (lambda text: text.replace('{\n  "', '{\n  "0--Parade/0_Parade_Parade_0_102.jpg": "'
                               + "0" * 64 + '",\n  "', 1), "appears twice"),
    (lambda text: text.replace("f11cc57b", "not-hex!", 1), "64 hex digits"),
])
def test_a_damaged_checksum_file_is_one_error_naming_it(installed, tmp_path, damage, problem):
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    data = site / "compbench" / DATA_FILE
    data.write_text(damage(data.read_text()))
    done = run_installed(site)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("compbench.errors.CompbenchError") and problem in last
    assert str(data) in last and f"git checkout -- compbench/{DATA_FILE}" in last
