"""examples/digits, a team's own project, copied outside this checkout and run with the commands
its README documents: it gates its own model, task and recipes against its own baselines, and
an edit of its own recipe rebuilds that recipe's row and nothing else.

Real builds, evaluations and timings of a small model on a fresh cache (about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.cache import ENTRY_FILE
from compbench.settings import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "digits"
VARIANTS = ["digits_cnn/fp32/torch", "digits_cnn/fp32/onnxruntime", "digits_cnn/fp32/openvino",
            "digits_cnn/int8-ort/onnxruntime", "digits_cnn/int8-nncf/openvino",
            "digits_cnn/sparse-30/torch", "digits_cnn/sparse-30/onnxruntime"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("outside") / "teamdigits"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(
        "reports", ".benchmarks", "__pycache__", "*.lock"))
    assert not copy.resolve().is_relative_to(REPO_ROOT)
    return copy


def compbench(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The README's command, ``compbench bench``, started in the project's folder."""
    command = Path(sys.executable).with_name("compbench")
    assert command.is_file(), f"{command}: compbench is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPBENCH_")}
    env["COMPBENCH_CACHE"] = str(project.parent / "cache")
    return subprocess.run([str(command), "bench", "-p", "no:randomly", *args], cwd=project,
                          capture_output=True, text=True, env=env, timeout=1200)


def entries(cache: Path) -> set[Path]:
    return {meta.parent for meta in cache.glob(f"*/*/*/*/{ENTRY_FILE}")}


@pytest.fixture(scope="module")
def gated(project) -> subprocess.CompletedProcess:
    return compbench(project)


def test_the_example_gates_its_own_model_outside_the_checkout(project, gated):
    output = gated.stdout + gated.stderr
    assert gated.returncode == 0, output[-4000:]
    assert "### digits_cnn" in output and "digit top-1" in output   # its own task's metric
    results = sorted((project / "reports").glob("results-*.json"))
    assert len(results) == 1, "the session's results belong in the project's own reports/"
    assert sorted(json.loads(results[0].read_text())["results"]) == sorted(VARIANTS)
    assert (project / "reports" / "history.sqlite").is_file()


def test_its_own_baselines_gate_it(project, gated, tmp_path):
    """The same command turns red when the project's baseline file disagrees with the run."""
    assert gated.returncode == 0
    baselines = json.loads((project / "baselines" / "default.json").read_text())
    stored = baselines["variants"]["digits_cnn/fp32/onnxruntime"]["shared"]["digit_accuracy"]
    stored["value"] = round(stored["value"] - 0.05, 6)
    (tmp_path / "default.json").write_text(json.dumps(baselines))
    done = compbench(project, "-k", "test_accuracy", "--baselines-dir", str(tmp_path))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "STALE BASELINE digits_cnn/fp32/onnxruntime: digit_accuracy = " in output
    assert "1 failed" in output


def test_editing_the_teams_recipe_rebuilds_its_row_only(project, gated):
    assert gated.returncode == 0
    cache = project.parent / "cache"
    before = entries(cache)
    recipes = project / "teamdigits" / "recipes.py"
    recipes.write_text(recipes.read_text() + "\n# edited: a comment is a change to the file\n")
    done = compbench(project, "-k", "test_accuracy")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    rebuilt = [json.loads((entry / ENTRY_FILE).read_text()) for entry in entries(cache) - before]
    # the artifact came out the same bytes, so its conversions and evaluations were reused
    assert [(e["kind"], e["inputs"]["compression"]) for e in rebuilt] == [("recipes", "sparse-30")]
