"""The CI workflows: lint-clean, and nothing in them that a developer cannot run locally.

Every step that does work is one ``make`` target (README), so a red nightly reproduces on a
laptop with the same command; the engine families of the nightly matrix are the registry's
(a new family must not silently go ungated at night).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from compbench.engines.registry import families
from compbench.settings import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
# what a team copies with the example project (tests/test_example_project.py runs its gate)
TEMPLATES = sorted((REPO_ROOT / "examples").glob("*/.github/workflows/*.yml"))


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert found, ("actionlint is not installed: it comes with the dev extra "
                   "(pip install -e '.[dev]' -c constraints/known-good.txt, or `make venv`)")
    return found


def steps(workflow: Path) -> list[dict]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    return [step for job in jobs for step in job["steps"]]


def test_there_are_a_nightly_and_a_pull_request_workflow():
    assert {w.name for w in WORKFLOWS} >= {"nightly.yml", "pr.yml"}


def test_the_workflows_lint_clean():
    assert TEMPLATES, "the example project's workflow template is gone"
    done = subprocess.run([actionlint(), "-no-color", *map(str, WORKFLOWS + TEMPLATES)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_working_step_is_a_make_target_that_exists():
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))
    for workflow in WORKFLOWS:
        for step in steps(workflow):
            command = step.get("run", "")
            if not command or "GITHUB_STEP_SUMMARY" in command:
                continue  # reporting glue, not work
            match = re.fullmatch(r"make ([\w-]+)(?: [A-Z_]+=(?:\$\{\{[^}]*\}\}|\S+))*", command.strip())
            assert match, f"{workflow.name}: step {step.get('name')!r} runs {command!r}; " \
                          "make it a Makefile target so it runs locally too"
            assert match[1] in targets, f"{workflow.name}: `make {match[1]}` is not in the Makefile"


def test_the_nightly_matrix_gates_every_engine_family():
    nightly = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    matrix = nightly["jobs"]["gate"]["strategy"]["matrix"]["family"]
    assert sorted(matrix) == sorted(families()), (
        ".github/workflows/nightly.yml's family matrix differs from the engine families "
        f"declared in engines/ ({sorted(families())})")


def test_without_github_the_compare_base_falls_back_to_the_previous_commit_and_says_so():
    env = {k: v for k, v in os.environ.items() if k != "GH_TOKEN"}
    done = subprocess.run([str(REPO_ROOT / ".ci" / "last-green")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "HEAD~1"
    assert "no last green nightly known here" in done.stderr
