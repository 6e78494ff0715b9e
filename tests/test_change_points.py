"""Change points over the history (runner/change_points.py) and the states they give
(runner/metric_state.py), on real history databases written by ``History.record``.

The case that motivated them: a speed-up drifting down a little every night, never beyond the
gate's tolerance (every verdict "pass"), must show as a change point and a regression.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from compbench.runner.change_points import e_divisive, history_series, series_change_points
from compbench.runner.history import History
from compbench.runner.matrix import get_variant
from compbench.runner.metric_state import IMPROVED, OK, REGRESSED, SUSPICIOUS, metric_state, series_state
from compbench.runner.results import Ledger
from compbench.settings import REPO_ROOT

VARIANT = "resnet20/fp32/onnxruntime"
EPYC = {"hardware_class": "x86_64-avx512-vnni", "vendor": "AuthenticAMD", "family": "25",
        "model": "17"}


def night(history: History, i: int, speedup: float, top1: float = 0.81, verdict: str = "pass",
          machine: dict = EPYC) -> None:
    ledger = Ledger()
    result = ledger[get_variant(VARIANT)]
    result.paired_speedup, result.metrics = speedup, {"top1": top1}
    result.verdicts = {"speedup": verdict, "top1": "pass"}
    history.record(ledger, {"date": f"2026-11-{i + 1:02d}T03:00:00+00:00",
                            "git_commit": f"{i:04d}abcdef", "machine": machine, "packages": {},
                            "command": "pytest bench"}, "default")


def noisy(n: int, level: float, sd: float, seed: int) -> np.ndarray:
    return level * np.exp(np.random.default_rng(seed).normal(0, sd, n))


def speed_series(history: History):
    [series] = [s for s in history_series(history, VARIANT)["x86_64-avx512-vnni (AuthenticAMD 25 17)"]
                if s.metric == "speedup"]
    return series


def test_a_slow_drift_inside_the_tolerance_is_a_change_point_and_a_regression(tmp_path):
    history = History(tmp_path / "history.sqlite")
    values = np.r_[noisy(15, 2.0, 0.01, 1), 2.0 * 0.98 ** np.arange(1, 8) * noisy(7, 1, 0.01, 2)]
    assert values[-1] / 2.0 > 0.85   # never beyond the speed gate's 15 %: every verdict passes
    for i, value in enumerate(values):
        night(history, i, float(value))
    series = speed_series(history)
    assert not any(series.violations)
    [point, *_] = series_change_points(series)
    assert 15 <= point.index <= 18 and point.significant
    assert point.step.high < 1.0 and point.step.low <= point.step.estimate <= point.step.high
    assert series_state(series).state == REGRESSED

    shown = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "history", "--history",
                            str(history.path), VARIANT], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    row = next(line for line in shown.stdout.splitlines() if line.startswith(f"| {VARIANT} "))
    assert "| regressed " in row
    assert "speedup regressed (significant change point): -" in row
    assert f"from session {point.session_id} ({point.git_commit[:12]}, 2026-11-" in row


def test_a_flat_noisy_history_has_no_change_point_and_is_ok(tmp_path):
    history = History(tmp_path / "history.sqlite")
    for i, value in enumerate(noisy(25, 2.0, 0.05, 3)):
        night(history, i, float(value))
    series = speed_series(history)
    assert series_change_points(series) == []
    assert series_state(series).state == OK


def test_an_accuracy_step_of_half_a_point_is_found_after_three_nights(tmp_path):
    history = History(tmp_path / "history.sqlite")
    for i in range(15):
        night(history, i, 2.0, top1=0.8103 if i < 12 else 0.8053)
    [top1] = [s for s in next(iter(history_series(history, VARIANT).values()))
              if s.metric == "top1"]
    [point] = series_change_points(top1)
    assert point.index == 12 and point.significant
    assert point.step.estimate == pytest.approx(-0.005)
    assert series_state(top1).state == REGRESSED


def test_one_violating_night_is_suspicious_two_are_a_regression(tmp_path):
    history = History(tmp_path / "history.sqlite")
    for i, value in enumerate(noisy(12, 2.0, 0.05, 4)):
        night(history, i, float(value))
    night(history, 12, 1.6, verdict="regression")
    assert series_state(speed_series(history)).state == SUSPICIOUS
    night(history, 13, 1.6, verdict="regression")
    found = series_state(speed_series(history))
    assert found.state == REGRESSED and found.reason == "2 consecutive runs beyond the tolerance"


def test_a_faster_machine_is_another_series_not_an_improvement(tmp_path):
    history = History(tmp_path / "history.sqlite")
    other = {**EPYC, "model": "1", "hardware_class": "x86_64-avx2"}
    for i, value in enumerate(noisy(20, 2.0, 0.02, 5)):
        night(history, i, float(value) * (1.5 if i >= 10 else 1.0),
              machine=other if i >= 10 else EPYC)
    found = history_series(history, VARIANT)
    assert sorted(found) == ["x86_64-avx2 (AuthenticAMD 25 1)",
                             "x86_64-avx512-vnni (AuthenticAMD 25 17)"]
    assert all(series_state(s).state == OK for group in found.values() for s in group)


def test_states_from_change_points_alone():
    rng = np.random.default_rng(6)
    up = np.r_[rng.normal(0, 0.01, 12), rng.normal(0.1, 0.01, 4)]
    [split] = e_divisive(up)
    assert split.index == 12 and split.significant
    from compbench.runner.change_points import change_points

    points = change_points(list(np.exp(up)), [(i, "d", None) for i in range(16)], relative=True)
    assert metric_state([False] * 16, points, 16, higher_is_better=True).state == IMPROVED
    assert metric_state([False] * 16, points, 16, higher_is_better=False).state == REGRESSED
    assert metric_state([False] * 40, points, 40, higher_is_better=False).state == OK   # old news


def test_the_sensitivity_pages_noise_never_spans_two_commits(tmp_path):
    """scripts/change_point_sensitivity.py pools the scatter between sessions of one commit: a
    speed-up that changed between two commits is a step, and must not widen the noise the page's
    false-alarm and detection rates are measured with."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "change_point_sensitivity", REPO_ROOT / "scripts" / "change_point_sensitivity.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    history = History(tmp_path / "history.sqlite")
    for i, (commit, speedup) in enumerate([("a" * 12, 2.00), ("a" * 12, 2.02), ("a" * 12, 1.98),
                                           ("b" * 12, 1.50), ("b" * 12, 1.51), ("b" * 12, 1.49)]):
        ledger = Ledger()
        result = ledger[get_variant(VARIANT)]
        result.paired_speedup, result.metrics = speedup, {"top1": 0.81}
        history.record(ledger, {"date": f"2026-11-{i + 1:02d}T03:00:00+00:00", "git_commit": commit,
                                "machine": EPYC, "packages": {}, "command": "pytest bench"},
                       "default")
    pools, counts, series = script.residual_pools([str(tmp_path / "history.sqlite")])
    assert counts["speed-up"] == 2 and len(series["speed-up"]) == 2   # one series per commit
    assert np.abs(pools["speed-up"]).max() < 0.02   # the 25 % step between commits is not noise
    assert "6 sessions of 2 commits" in script.sessions_read([str(tmp_path / "history.sqlite")])
