"""The calibration that marks a drifted machine, and the allocator setting it once caught."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from compbench import machine_drift
from compbench.allocator import keep_freed_memory
from compbench.machine_drift import DRIFT_BOUND, MachineDrift, calibration_s


def test_the_calibration_is_a_real_measurement_that_grows_with_work(monkeypatch):
    one = calibration_s(threads=1)
    assert 0 < one < 5
    monkeypatch.setattr(machine_drift, "_STEPS", machine_drift._STEPS * 4)
    assert calibration_s(threads=1) > 2 * one


def test_a_slower_machine_is_unstable_and_says_by_how_much(monkeypatch):
    drift = MachineDrift(start_s=0.05)
    monkeypatch.setattr(machine_drift, "calibration_s", lambda: 0.05 * (DRIFT_BOUND - 0.1))
    assert drift.unstable_reason() is None and drift.stable
    monkeypatch.setattr(machine_drift, "calibration_s", lambda: 0.05 * (DRIFT_BOUND + 0.2))
    reason = drift.unstable_reason()
    assert reason and f"{DRIFT_BOUND + 0.2:.2f}x its time when timing began" in reason
    assert not drift.stable and "UNSTABLE" in drift.describe()


def test_a_faster_machine_counts_as_drift_too():
    drift = MachineDrift(start_s=0.10, later_s=[0.10 / (DRIFT_BOUND + 0.1)])
    assert drift.worst_factor == pytest.approx(DRIFT_BOUND + 0.1) and not drift.stable


def test_freed_memory_is_kept_so_repeated_large_allocations_do_not_fault():
    # whatever an earlier test loaded (TensorFlow resets the thresholds), applying them again
    # is what the speed test does before timing
    assert "keeps freed blocks" in keep_freed_memory()

    def faults_of_allocations() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            block = np.ones(1 << 21)  # 16 MB, filled: every page touched
            del block
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_allocations()        # the first one maps the heap
    assert faults_of_allocations() < 200   # ~4 000 pages per allocation if given back
