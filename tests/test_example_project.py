"""examples/digits, a team's own project, copied outside this checkout and run with the commands
its README and its CI workflow template document: it gates its own model, task and recipes
against its own baselines, and an edit of its own recipe rebuilds that recipe's row and nothing
else.

Real builds, evaluations and timings of a small model on a fresh cache (about a minute), and
a real `compbench compare` of two commits of the team's repository.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def compbench_command(folder: Path, *args: str, cache: Path) -> subprocess.CompletedProcess:
    """The installed ``compbench`` command, started in ``folder`` as a team would."""
    command = Path(sys.executable).with_name("compbench")
    assert command.is_file(), f"{command}: compbench is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPBENCH_")}
    env["COMPBENCH_CACHE"] = str(cache)
    return subprocess.run([str(command), *args], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=1200)


def compbench(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The README's command, ``compbench bench``, started in the project's folder."""
    return compbench_command(project, "bench", "-p", "no:randomly", *args,
                             cache=project.parent / "cache")


def entries(cache: Path) -> set[Path]:
    return {meta.parent for meta in cache.glob(f"*/*/*/*/{ENTRY_FILE}")}


def workflow_gate(project: Path) -> list[str]:
    """The arguments of the gate step of the project's nightly workflow template: the command
    its CI runs is the one this test runs."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "compbench-nightly.yml").read_text())
    [command] = [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("name") == "Gate"]
    words = shlex.split(command)
    assert words[:2] == ["compbench", "bench"], command
    return words[2:]


@pytest.fixture(scope="module")
def gated(project) -> subprocess.CompletedProcess:
    return compbench(project, *workflow_gate(project))


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


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=team", "-c", "user.email=team@example.org",
                    *args], check=True, capture_output=True, text=True)


def test_compare_of_two_commits_of_the_teams_repository_finds_its_regression(project, gated, tmp_path):
    """``compbench compare BASE HEAD`` run in the team's repository compares the team's commits
    (worktrees of its repository, each run by this compbench with its own project folder)."""
    assert gated.returncode == 0
    repo = tmp_path / "teamrepo"
    shutil.copytree(project, repo, ignore=shutil.ignore_patterns(
        "reports", ".benchmarks", "__pycache__", "*.lock"))
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    recipes = repo / "teamdigits" / "recipes.py"
    edited = recipes.read_text().replace("torch.quantile(magnitudes, sparsity)",
                                         "torch.quantile(magnitudes, min(0.97, 3 * sparsity))")
    assert edited != recipes.read_text()
    recipes.write_text(edited)
    git(repo, "commit", "-q", "-am", "prune three times as much")
    done = compbench_command(repo, "compare", "HEAD~1", "HEAD", "digits_cnn/sparse-30/torch",
                             "--speed-budget", "0.5", cache=project.parent / "cache")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("| digits_cnn/sparse-30"))
    assert "REGRESSION" in row and "digit_accuracy" in row, row
