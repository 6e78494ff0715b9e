"""``compbench bisect``: the halving and its inconclusive rule on their own, then on a real
commit range — a copy of this checkout, eight commits on top, exactly one of which switches off
onnxruntime's graph optimisation (a real engine option, no sleep). On the int8 QDQ variant that
leaves DequantizeLinear + float Conv + QuantizeLinear unfused, several times slower: unmistakable
on a loaded two-core machine. Bisect must name that commit within ⌈log2 N⌉ + 2 probes, and the
probes of commits that touched no step's inputs must reuse GOOD's artifacts (zero builds).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.paired_statistics import RatioInterval
from compbench.runner.bisect import (
    BAD,
    GOOD,
    INCONCLUSIVE,
    BisectError,
    Bisection,
    Outcome,
    Probe,
    commit_range,
    halve,
    verdict,
)
from compbench.runner.bisect_alert import render_alert
from compbench.runner.compare import VariantComparison
from compbench.settings import REPO_ROOT

pytestmark = pytest.mark.timing   # alone on the machine (Makefile: after the parallel tests)

VARIANT = "resnet20/int8-ort/onnxruntime-1t"   # one core per round: the least noise
COMMITS = 8
SLOW_AT = 5   # the commit (1-based) that injects the slowdown
FAST_PATH = "ort.GraphOptimizationLevel.ORT_ENABLE_ALL"


def judged(verdicts: list[str]) -> tuple[Outcome, list[int]]:
    """halve over fixed verdicts, with the indices it asked for, in order."""
    asked: list[int] = []

    def judge(index: int) -> str:
        asked.append(index)
        return verdicts[index]

    return halve(len(verdicts), judge), asked


def test_bad_is_judged_first_then_the_range_is_halved():
    outcome, asked = judged([GOOD] * 5 + [BAD] * 3)
    assert outcome == Outcome(first_bad=5)
    assert asked == [7, 3, 5, 4]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 16, 33])
def test_every_first_bad_position_is_found_within_log2_plus_one_probes(count):
    for first_bad in range(count):
        outcome, asked = judged([GOOD] * first_bad + [BAD] * (count - first_bad))
        assert outcome.first_bad == first_bad
        assert len(asked) == len(set(asked)) <= math.ceil(math.log2(count)) + 1


def test_a_range_whose_end_is_not_worse_has_no_first_bad_commit():
    outcome, asked = judged([GOOD] * 8)
    assert outcome == Outcome(bad_is_not_worse=True) and asked == [7]


def test_an_undecided_probe_is_set_aside_and_its_neighbour_judged_instead():
    outcome, asked = judged([GOOD, GOOD, INCONCLUSIVE, GOOD, GOOD, BAD, BAD, BAD])
    assert asked == [7, 3, 5, 4] and outcome == Outcome(first_bad=5)   # 2 did not matter
    outcome, asked = judged([GOOD, GOOD, GOOD, INCONCLUSIVE, GOOD, GOOD, BAD, BAD])
    # the set-aside probe and the neighbour on the wrong side cost two probes more than halving
    assert asked == [7, 3, 2, 4, 5, 6] and outcome == Outcome(first_bad=6)


def test_when_the_answer_hinges_on_an_undecided_probe_it_names_the_commits_in_doubt():
    outcome, asked = judged([GOOD, GOOD, GOOD, INCONCLUSIVE, BAD, BAD, BAD, BAD])
    assert asked == [7, 3, 2, 4]
    assert outcome == Outcome(suspects=(3, 4))   # 3 if it is bad, else 4: not a guess
    outcome, asked = judged([GOOD, INCONCLUSIVE, INCONCLUSIVE, BAD])
    assert asked == [3, 1, 0, 2] and outcome == Outcome(suspects=(1, 2, 3))
    assert judged([INCONCLUSIVE] * 3)[0] == Outcome(suspects=(0, 1, 2))


def test_a_probe_is_bad_only_where_compare_finds_a_regression():
    assert verdict(VariantComparison("v")) == GOOD
    assert verdict(VariantComparison("v", problems=["speed 0.3× ... entirely below 0.95"])) == BAD
    assert verdict(VariantComparison("v", notes=["speed 0.96× [0.93, 0.99] straddles 0.95"])) \
        == INCONCLUSIVE
    assert verdict(VariantComparison("v", not_compared="base could not run it")) == INCONCLUSIVE


def probe(commit: str, subject: str, speed: tuple[float, float, float], top1: float,
          problems: list[str] | None = None) -> Probe:
    result = VariantComparison(VARIANT, base={"metrics": {"top1": 0.8126}},
                               head={"metrics": {"top1": top1}},
                               interval=RatioInterval(*speed, 400), problems=problems or [])
    return Probe(commit, subject, [result], builds=0)


def test_the_alert_leads_with_the_answer_then_evidence_and_the_commands_to_reproduce():
    commits = [c * 40 for c in "abcd"]
    found = Bisection("goodref", commits, first_bad=commits[2])
    for p in (probe(commits[3], "docs | more", (0.35, 0.34, 0.36), 0.8126, ["speed 0.350× …"]),
              probe(commits[1], "docs", (1.01, 0.99, 1.02), 0.8126),
              probe(commits[2], "onnxruntime: graph optimisation off", (0.34, 0.33, 0.35),
                    0.8000, ["speed 0.340× …", "top1 0.8000 vs 0.8126 (tolerance 0.005)"])):
        found.probes[p.commit] = p
    alert = render_alert(found, VARIANT, "main", ["compbench", "bisect", "g00d", commits[3],
                                                  "--select", VARIANT], "https://ci/report")
    assert alert.startswith(f"# compbench bisect: {VARIANT}: speed, top1 regressed at cccccccccccc "
                            "(onnxruntime: graph optimisation off)\n")
    assert f"| first bad commit | `{commits[2]}` onnxruntime: graph optimisation off |" in alert
    assert f"| parent | `{commits[1]}` |" in alert and "| report | https://ci/report |" in alert
    rows = [line for line in alert.splitlines() if line.startswith("| `")]
    assert [row[3:15] for row in rows] == ["bbbbbbbbbbbb", "cccccccccccc", "dddddddddddd"]
    assert rows[1].startswith("| `cccccccccccc` **first bad** |") and "0.340× [0.330, 0.350]" in rows[1]
    assert "top1 -0.0126" in rows[1] and "docs \\| more" in rows[2]   # a | in a subject
    assert f"compbench bisect g00d {commits[3]} --select {VARIANT}" in alert
    assert f"compbench compare {commits[1]} {commits[2]} {VARIANT}" in alert


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history_repo(tmp_path) -> tuple[Path, list[str]]:
    """GOOD (this checkout's code) and COMMITS commits after it; the SLOW_AT-th slows
    onnxruntime. A copy of the files, not ``git archive``: CI's and a developer's checkout may
    be an export without .git."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, repo, ignore=shutil.ignore_patterns(
        ".venv", ".git", "reports", ".benchmarks", "__pycache__", ".tox", "*.egg-info", "site",
        ".ruff_cache"))
    git(repo, "init", "-q")
    commits = [commit(repo, "GOOD: this checkout's code")]
    for i in range(1, COMMITS + 1):
        if i == SLOW_AT:
            engine = repo / "engines" / "onnxruntime_cpu.py"
            source = engine.read_text()
            assert source.count(FAST_PATH) == 1
            engine.write_text(source.replace(FAST_PATH,
                                             "ort.GraphOptimizationLevel.ORT_DISABLE_ALL"))
            commits.append(commit(repo, "onnxruntime: graph optimisation off"))
        else:
            (repo / "docs" / f"note-{i}.md").write_text(f"note {i}\n")
            commits.append(commit(repo, f"docs: note {i}"))
    return repo, commits


def test_an_empty_or_unknown_range_is_one_clear_error(history_repo):
    repo, commits = history_repo
    with pytest.raises(BisectError, match="has no commits: BAD must descend from GOOD"):
        commit_range(repo, commits[-1], commits[0])
    with pytest.raises(BisectError, match="'nope' is not a commit of"):
        commit_range(repo, "nope", commits[-1])
    assert commit_range(repo, commits[0], commits[-1]) == commits[1:]


def test_bisect_names_the_commit_that_slowed_onnxruntime(history_repo, tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    repo, commits = history_repo
    env = {**os.environ, "COMPBENCH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "bisect", commits[0],
                             commits[-1], "--select", VARIANT, "--repo", str(repo),
                             "--speed-budget", "1", "--alert", str(tmp_path / "alert.md")],
                            cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    out = result.stdout
    culprit = commits[SLOW_AT]
    assert f"First bad commit: {culprit} onnxruntime: graph optimisation off" in out, out
    probes = int(re.search(r"^(\d+) probe\(s\) for 8 commit\(s\)", out, re.M).group(1))
    assert probes <= math.ceil(math.log2(COMMITS)) + 2, out
    # at least 2x slower, the whole interval: the injected step, not noise
    at_it = re.search(r"- at it: .*speed vs GOOD ([\d.]+)× \[([\d.]+), ([\d.]+)\].*-> bad", out)
    assert at_it and float(at_it.group(3)) < 0.5, out
    parent = re.search(r"- its parent: .*speed vs GOOD ([\d.]+)× .*-> good", out)
    assert parent, out
    probed = [(line.split()[1], int(re.search(r"(\d+) cache build\(s\)", line).group(1)))
              for line in out.splitlines() if re.match(r"- [0-9a-f]{12} ", line)]
    assert len(probed) == probes
    slow = {c[:12] for c in commits[SLOW_AT:]}
    assert all(n == 0 for c, n in probed if c not in slow), out   # GOOD's artifacts, reused
    rebuilt = [n for c, n in probed if c in slow]
    # the engine file is a recorded input of the evaluation: the first slow probe rebuilds it,
    # later slow probes reuse that
    assert rebuilt[0] >= 1 and not any(rebuilt[1:]), out
    alert = (tmp_path / "alert.md").read_text()
    assert alert.startswith(f"# compbench bisect: {VARIANT}: speed")
    assert f"| first bad commit | `{culprit}` onnxruntime: graph optimisation off |" in alert
    assert f"compbench bisect {commits[0]} {commits[-1]} --select {VARIANT}" in alert
