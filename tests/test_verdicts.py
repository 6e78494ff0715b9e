"""The checks: one point rule and one interval rule, shared by the gate and ``compare``, with
verdicts carried as values rather than read back out of a message's wording."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from compbench.paired_statistics import RatioInterval
from compbench.runner.baselines import Baselines, empty
from compbench.runner.compare import speed_findings
from compbench.runner.results import VariantResult
from compbench.runner.verdicts import Verdict, allowance, interval_verdict, lowest_allowed, point_verdict

SPARSE = "scrfd_500m_kps/sparse/onnxruntime"   # fp32 kernels: speed-up per hardware class
VID = "scrfd_500m_kps/fp32/torch"              # fp32: accuracy shared by every machine
CLASS = "x86_64-avx2"


def stored(tmp_path, speedup: float, tolerance: dict) -> Baselines:
    data = empty("p")
    data["tolerances"] = {"speedup": tolerance, "hard": {"abs": 0.01}}
    data["recordings"] = {"r1": {"git_commit": "abc"}}
    data["variants"] = {
        SPARSE: {"by_hardware": {CLASS: {"speedup": {"value": speedup, "recorded": "r1"}}}},
        VID: {"shared": {"hard": {"value": 0.70, "recorded": "r1"}}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return Baselines(path, Baselines.load("p", path).data, CLASS)


@pytest.mark.parametrize("measured, higher_is_better, two_sided, verdict", [
    (0.695, True, True, Verdict.PASS),         # within the tolerance
    (0.68, True, True, Verdict.REGRESSION),
    (0.72, True, True, Verdict.STALE),         # better beyond it: the baseline is stale
    (0.72, True, False, Verdict.PASS),         # one-sided checks never call a value stale
    (0.72, False, True, Verdict.REGRESSION),   # lower is better: the same move is worse
    (0.68, False, True, Verdict.STALE),
])
def test_the_point_rule(measured, higher_is_better, two_sided, verdict):
    assert point_verdict(measured, 0.70, {"abs": 0.01}, higher_is_better, two_sided) is verdict


def test_a_relative_tolerance_is_a_fraction_of_the_reference_magnitude():
    assert allowance({"rel": 0.02}, -1000) == pytest.approx(20)
    assert lowest_allowed(1.0, {"rel": 0.05}) == pytest.approx(0.95)
    assert point_verdict(1021, 1000, {"rel": 0.02}, higher_is_better=False) is Verdict.REGRESSION
    assert point_verdict(1019, 1000, {"rel": 0.02}, higher_is_better=False) is Verdict.PASS


def test_the_interval_rule_asks_whether_the_machine_is_unstable_only_below_the_floor():
    asked = []

    def unstable() -> str:
        asked.append(True)
        return "the machine drifted"

    assert interval_verdict(RatioInterval(1.0, 0.96, 1.04, 40), 0.95, unstable) == (Verdict.PASS, None)
    assert interval_verdict(RatioInterval(0.95, 0.92, 0.98, 40), 0.95, unstable) == (
        Verdict.INCONCLUSIVE, None)
    assert not asked
    assert interval_verdict(RatioInterval(0.8, 0.78, 0.82, 40), 0.95) == (Verdict.REGRESSION, None)
    assert interval_verdict(RatioInterval(0.8, 0.78, 0.82, 40), 0.95, unstable) == (
        Verdict.INCONCLUSIVE, "the machine drifted")
    assert asked == [True]


def test_a_regression_stands_only_when_an_independent_re_measurement_confirms_it():
    measured = []

    def again(interval: RatioInterval):
        def confirm() -> RatioInterval:
            measured.append(interval)
            return interval
        return confirm

    below, straddling = RatioInterval(0.8, 0.78, 0.82, 40), RatioInterval(0.95, 0.90, 1.0, 40)
    assert interval_verdict(below, 0.95, confirm=again(below)) == (
        Verdict.REGRESSION, "an independent re-measurement, 0.800× [0.780, 0.820] (95%, 40 rounds), "
        "confirms it")
    verdict, reason = interval_verdict(below, 0.95, confirm=again(straddling))
    assert verdict is Verdict.INCONCLUSIVE and "0.950× [0.900, 1.000]" in reason, reason
    assert "did not confirm" in reason
    # asked only below the floor, and not when the machine is already distrusted
    assert interval_verdict(straddling, 0.95, confirm=again(below)) == (Verdict.INCONCLUSIVE, None)
    assert interval_verdict(below, 0.95, lambda: "drifted", again(below)) == (
        Verdict.INCONCLUSIVE, "drifted")
    assert measured == [below, straddling]


@pytest.mark.parametrize("low, high", [(0.80, 0.90), (0.90, 1.00), (0.94, 1.06), (0.96, 1.10),
                                       (0.949, 0.95), (0.95, 0.951)])
def test_compare_and_the_gate_call_one_interval_the_same(tmp_path, low, high):
    """The gate against a recorded 1.0 at ±5 % and ``compare`` at a 5 % tolerance see the same
    floor: whatever one calls a regression, a pass or undecided, so does the other."""
    interval = RatioInterval((low + high) / 2, low, high, 40)
    gate = stored(tmp_path, 1.0, {"rel": 0.05}).check_interval(SPARSE, "speedup", interval)
    problem, note = speed_findings(interval, 0.05)
    said_by_compare = (Verdict.REGRESSION if problem else Verdict.INCONCLUSIVE if note
                       else Verdict.PASS)
    assert gate.verdict is said_by_compare
    assert (gate.problem is not None) == (gate.verdict is Verdict.REGRESSION)


def test_a_verdict_is_a_value_not_the_wording_of_its_message(tmp_path):
    baselines = stored(tmp_path, 1.0, {"rel": 0.05})
    stale = baselines.check(VID, "hard", 0.75)
    assert stale.verdict is Verdict.STALE and stale.problem
    # a message reworded (translated, shortened, prefixed) says the same verdict
    assert replace(stale, problem=f"note: {stale.problem.lower()}").verdict is Verdict.STALE
    regression = baselines.check(VID, "hard", 0.60)
    assert replace(regression, problem="STALE-looking wording").verdict is Verdict.REGRESSION


def test_a_verdict_is_stored_as_its_word(tmp_path):
    """Results files, merged runs and the history keep plain words: a file written before the
    enum existed reads the same."""
    from compbench.runner.matrix import get_variant

    result = VariantResult(get_variant(SPARSE))
    check = stored(tmp_path, 1.0, {"rel": 0.05}).check(VID, "hard", 0.75)
    result.verdicts[check.metric] = check.verdict
    assert json.loads(json.dumps(result.verdicts)) == {"hard": "stale"}
    assert Verdict("no baseline") is Verdict.NO_BASELINE
