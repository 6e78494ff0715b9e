"""``compbench accept``: a confirmed change becomes the baseline on purpose, with its reason and
the change point's commit in the file, and nothing else moves (runner/accept.py).

Real history databases written by ``History.record`` (as tests/test_change_points.py), a copy of
the committed baseline file, the command run as a user runs it.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys

import numpy as np
import pytest

from compbench.provenance import provenance
from compbench.runner.baselines import Baselines, baseline_path
from compbench.runner.history import History
from compbench.runner.matrix import get_variant
from compbench.runner.results import Ledger
from compbench.settings import REPO_ROOT

VARIANT = "resnet20/int8-ort/onnxruntime"


@pytest.fixture(scope="module")
def this_machine() -> dict:
    return provenance()["machine"]


def nights(history: History, speedups, machine: dict, start: int = 0) -> None:
    for i, speedup in enumerate(speedups, start):
        ledger = Ledger()
        result = ledger[get_variant(VARIANT)]
        result.paired_speedup, result.metrics = float(speedup), {"top1": 0.81}
        result.verdicts = {"speedup": "pass", "top1": "pass"}
        history.record(ledger, {"date": f"2026-11-{i + 1:02d}T03:00:00+00:00",
                                "git_commit": f"{i:04d}abcdef", "machine": machine,
                                "packages": {}, "command": "pytest bench"}, "default")


def noisy(n: int, level: float, seed: int) -> np.ndarray:
    return level * np.exp(np.random.default_rng(seed).normal(0, 0.01, n))


def compbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compbench.runner.cli", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def baselines_copy(tmp_path):
    folder = tmp_path / "baselines"
    folder.mkdir()
    shutil.copy(baseline_path("default"), folder / "default.json")
    return folder


def test_accepting_a_confirmed_change_moves_that_value_only(tmp_path, baselines_copy, this_machine):
    history = History(tmp_path / "history.sqlite")
    after = noisy(6, 3.0, 2)
    nights(history, np.r_[noisy(14, 3.6, 1), after], this_machine)
    before = json.loads((baselines_copy / "default.json").read_text())
    done = compbench("accept", VARIANT, "speedup", "--reason", "onnxruntime 1.33 drops a fused kernel",
                     "--history", str(history.path), "--baselines-dir", str(baselines_copy))
    assert done.returncode == 0, done.stderr
    assert f"{VARIANT} speedup: accepted the change at session 15 (0014abcdef" in done.stdout

    data = json.loads((baselines_copy / "default.json").read_text())
    stored, _, cross = Baselines(baselines_copy / "default.json", data).stored(VARIANT, "speedup")
    assert not cross and stored["value"] == pytest.approx(statistics.median(after), abs=1e-3)
    accepted = data["recordings"][stored["recorded"]]["accepted"]
    assert accepted["reason"] == "onnxruntime 1.33 drops a fused kernel"
    assert accepted["change_point"]["git_commit"] == "0014abcdef" and accepted["runs"] == 6
    # every other value, and this variant's other values, as they were
    data["variants"][VARIANT] = before["variants"][VARIANT] = None
    assert data["variants"] == before["variants"]


def test_no_confirmed_change_here_is_one_error_and_no_write(tmp_path, baselines_copy, this_machine):
    flat = History(tmp_path / "flat.sqlite")
    nights(flat, noisy(20, 3.6, 3), this_machine)
    elsewhere = History(tmp_path / "elsewhere.sqlite")
    nights(elsewhere, np.r_[noisy(14, 3.6, 1), noisy(6, 3.0, 2)],
           {**this_machine, "hardware_class": "x86_64-avx2", "model": "1"})
    unchanged = (baselines_copy / "default.json").read_bytes()
    for history, complaint in [
            (flat, f"{VARIANT} speedup: no confirmed change in the last 20 runs on this machine"),
            (elsewhere, f"has no 'speedup' runs of {VARIANT} on this machine")]:
        done = compbench("accept", VARIANT, "speedup", "--reason", "intended",
                         "--history", str(history.path), "--baselines-dir", str(baselines_copy))
        assert done.returncode == 2, done.stdout
        assert complaint in done.stderr and "Traceback" not in done.stderr, done.stderr
    blank = compbench("accept", VARIANT, "speedup", "--reason", " ", "--history", str(flat.path),
                      "--baselines-dir", str(baselines_copy))
    assert blank.returncode == 2 and "--reason is required" in blank.stderr
    assert (baselines_copy / "default.json").read_bytes() == unchanged
