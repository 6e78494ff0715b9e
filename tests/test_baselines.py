"""Baseline files: strict schema, the two-sided gate, hardware classes, safe updates."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from compbench.errors import BaselineError
from compbench.runner.baselines import (
    Baselines,
    baseline_path,
    cross_hardware_tolerances,
    empty,
    hardware_dependent,
)

VID = "scrfd_500m_kps/fp32/torch"           # fp32: accuracy shared by every machine
INT8 = "scrfd_500m_kps/int8-ort/onnxruntime"  # int8: accuracy per hardware class, speed per CPU
SPARSE = "scrfd_500m_kps/sparse/onnxruntime"   # fp32 kernels: speed-up per hardware class
HERE, OTHER = "x86_64-avx512-vnni", "x86_64-avx2"


def value(v, rec="r1"):
    return {"value": v, "recorded": rec}


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def base_file(**variants) -> dict:
    data = empty("p")
    data["tolerances"] = {"hard": {"abs": 0.01}, "size_bytes": {"rel": 0.05},
                          "speedup": {"rel": 0.4}}
    data["recordings"] = {"r1": {"git_commit": "abc"}}
    data["variants"] = variants
    return data


@pytest.fixture
def stored(tmp_path):
    return Baselines.load("p", write(tmp_path / "p.json", base_file(**{
        VID: {"shared": {"hard": value(0.70), "size_bytes": value(1000)}},
        INT8: {"shared": {"size_bytes": value(800)},
               "by_hardware": {OTHER: {"hard": value(0.60), "speedup": value(1.5)}}},
        SPARSE: {"by_hardware": {OTHER: {"speedup": value(1.5)}}},
    })))


def test_within_tolerance_passes(stored):
    assert stored.check(VID, "hard", 0.705).problem is None
    assert stored.check(VID, "hard", 0.695).problem is None


def test_drop_beyond_tolerance_is_a_regression(stored):
    check = stored.check(VID, "hard", 0.68)
    assert check.problem.startswith("REGRESSION")
    for text in ("hard", "0.68", "0.7", "±0.01", "--update-baselines", "[shared]"):
        assert text in check.problem
    assert check.delta == pytest.approx(-0.02)


def test_gain_beyond_tolerance_is_a_stale_baseline(stored):
    check = stored.check(VID, "hard", 0.72)
    assert check.problem.startswith("STALE BASELINE") and check.verdict == "stale"


def test_size_is_lower_is_better_with_relative_tolerance(stored):
    assert stored.check(VID, "size_bytes", 1040, higher_is_better=False).problem is None
    assert "REGRESSION" in stored.check(VID, "size_bytes", 1100, higher_is_better=False).problem
    assert "STALE" in stored.check(VID, "size_bytes", 900, higher_is_better=False).problem


def test_missing_entry_fails_with_how_to_record(stored):
    assert "no baseline" in stored.check("x/y/z", "hard", 0.5).problem


def test_which_values_depend_on_the_hardware():
    assert hardware_dependent(INT8, "hard") and hardware_dependent(VID, "speedup")
    assert not hardware_dependent(VID, "hard") and not hardware_dependent(INT8, "size_bytes")


def test_own_class_is_gated_at_the_normal_tolerance(stored):
    stored.hardware_class = OTHER
    check = stored.check(INT8, "hard", 0.585)
    assert check.basis == OTHER and check.problem.startswith("REGRESSION")


def test_another_class_is_compared_with_the_nearest_under_the_cross_tolerance(stored):
    stored.hardware_class = HERE  # no values of its own: AVX2's are the nearest there are
    within = stored.check(INT8, "hard", 0.60 - cross_hardware_tolerances()["hard"]["abs"] + 0.001)
    assert within.problem is None and within.basis == f"{OTHER} (nearest)"
    assert "cross-hardware" in within.tolerance
    beyond = stored.check(INT8, "hard", 0.60 - cross_hardware_tolerances()["hard"]["abs"] - 0.01)
    assert beyond.problem.startswith("REGRESSION") and f"[{OTHER} (nearest)]" in beyond.problem
    # hardware-independent values are gated as usual on any class: the shared value, the
    # normal tolerance
    size = stored.check(INT8, "size_bytes", 900, higher_is_better=False)
    assert size.problem.startswith("REGRESSION") and "[shared]" in size.problem
    assert size.basis == "shared" and size.baseline == 800 and "cross-hardware" not in size.tolerance


def test_no_class_at_all_is_a_missing_baseline_not_a_pass(stored):
    stored.hardware_class = HERE
    check = stored.check(VID, "speedup", 3.0, two_sided=False)
    assert check.problem and "no baseline for 'speedup' for hardware class" in check.problem


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(schema=1), '"schema" is 1'),
    (lambda d: d.pop("recordings"), '"recordings"'),
    (lambda d: d.pop("variants"), '"variants"'),
    (lambda d: d["tolerances"].update(hard={"abs": -0.1}), 'negative'),
    (lambda d: d["tolerances"].update(hard={"rel": "x"}), 'finite number'),
    (lambda d: d["tolerances"].update(hard={"abs": 0.1, "rel": 0.1}), '{"abs": x}'),
    (lambda d: d["tolerances"].update(hardd={"abs": 0.1}), 'unknown metric'),
    (lambda d: d["variants"].update({VID: {"shared": {"hard": value("high")}}}), 'finite number'),
    (lambda d: d["variants"].update({VID: {"shared": {"hard": 0.7}}}), '"value"'),
    (lambda d: d["variants"].update({VID: {"shared": {"top5": value(1)}}}), 'unknown metric'),
    (lambda d: d["variants"].update({VID: {"shared": {"hard": value(1, "zz")}}}), 'names no entry'),
    (lambda d: d["variants"].update({VID: {"by_hardware": {HERE: {"hard": value(float("inf"))}}}}),
     'finite'),
    (lambda d: d["variants"].update({VID: {"sharde": {}}}), 'must be an object with'),
])
def test_malformed_file_is_one_clear_error_naming_the_key(tmp_path, mutate, fragment):
    data = base_file()
    mutate(data)
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(BaselineError) as info:
        Baselines.load("bad", path)
    assert str(path) in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize("content", ["{not json", "[]"])
def test_unparsable_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match="bad.json"):
        Baselines.load("bad", path)


def test_a_folder_or_bad_profile_is_refused(tmp_path):
    (tmp_path / "p.json").mkdir()
    with pytest.raises(BaselineError, match="is a folder"):
        Baselines.load("p", tmp_path / "p.json")
    for profile in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(BaselineError, match="not a profile name"):
            baseline_path(profile)
    assert baseline_path("full", tmp_path) == tmp_path / "full.json"


def test_update_stamps_only_what_was_measured(stored):
    before = stored.path.read_text()
    stored.hardware_class = HERE
    data, changes = stored.updated({INT8: {"hard": 0.61, "speedup": 5.0}, "m/c/e": {"top1": 0.5}},
                                   {"git_commit": "new"})
    assert stored.path.read_text() == before  # computing an update writes nothing
    assert changes == ["m/c/e top1: (new) → 0.5", f"{INT8} hard [{HERE}]: (new) → 0.61",
                       f"{INT8} speedup [{HERE}/{stored.cpu}]: (new) → 5"]
    entry = data["variants"][INT8]
    assert entry["by_hardware"][OTHER]["hard"] == value(0.60)      # the other class untouched
    new_id = entry["by_hardware"][HERE]["hard"]["recorded"]
    assert data["recordings"][new_id] == {"git_commit": "new"}
    assert data["variants"][VID]["shared"]["hard"] == value(0.70)   # not re-measured: kept
    assert set(data["recordings"]) == {"r1", new_id}


def test_record_is_atomic_keeps_the_mode_and_writes_through_a_symlink(stored, tmp_path):
    os.chmod(stored.path, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(stored.path)
    linked = Baselines.load("p", link)
    linked.hardware_class = HERE
    assert linked.record({VID: {"hard": 0.71}}, {"git_commit": "n"}) == [f"{VID} hard: 0.7 → 0.71"]
    assert link.is_symlink() and oct(stored.path.stat().st_mode & 0o777) == oct(0o640)
    assert Baselines.load("p", stored.path).data["variants"][VID]["shared"]["hard"]["value"] == 0.71
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "link.json.lock", "p.json"]


def _record(path: str, variant: str, result) -> None:
    baselines = Baselines.load("p", __import__("pathlib").Path(path))
    baselines.record({variant: {"top1": 0.5}}, {"git_commit": variant})
    result.put(variant)


def test_concurrent_updates_serialize_instead_of_losing_one(stored):
    """Each process loaded the file before the other wrote: the lock plus the re-read keep both."""
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    workers = [context.Process(target=_record, args=(str(stored.path), f"m/c/e{i}", done))
               for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    final = Baselines.load("p", stored.path).data["variants"]
    assert {f"m/c/e{i}" for i in range(4)} <= set(final) and VID in final


def interval(estimate: float, low: float, high: float):
    from compbench.paired_statistics import RatioInterval

    return RatioInterval(estimate, low, high, rounds=40)


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.95, 1.05, "pass"),          # floor 1.5 × (1 − 0.4) = 0.9: the whole interval above
    (0.80, 0.89, "regression"),    # the whole interval below
    (0.85, 0.95, "inconclusive"),  # straddles it: too noisy to tell
])
def test_an_interval_is_a_pass_a_regression_or_inconclusive(stored, low, high, verdict):
    stored.hardware_class = OTHER  # speed-up 1.5 stored for this class, tolerance rel 0.4
    check = stored.check_interval(SPARSE, "speedup", interval((low + high) / 2, low, high))
    outcome = ("regression" if check.problem else "inconclusive" if check.inconclusive
               else "pass")
    assert outcome == verdict == check.verdict   # the fields and the report cell agree
    if check.problem:
        assert "entirely below the floor 0.9" in check.problem and "--update-baselines" in check.problem
    if check.inconclusive:
        assert "straddles the floor 0.9" in check.inconclusive and "not gated" in check.inconclusive


def test_an_interval_without_a_baseline_fails_like_a_point(stored):
    stored.hardware_class = OTHER
    check = stored.check_interval(VID, "speedup", interval(2.0, 1.9, 2.1))
    assert check.problem and "no baseline" in check.problem and not check.inconclusive


def test_a_regression_on_a_drifted_machine_is_inconclusive_with_the_reason(stored):
    stored.hardware_class = OTHER
    asked = []

    def drifted() -> str:
        asked.append(True)
        return "the machine drifted: 1.40x"

    below = stored.check_interval(SPARSE, "speedup", interval(0.85, 0.80, 0.89), unstable=drifted)
    assert not below.problem and "lies below the floor 0.9" in below.inconclusive
    assert "the machine drifted: 1.40x" in below.inconclusive
    passing = stored.check_interval(SPARSE, "speedup", interval(1.0, 0.95, 1.05), unstable=drifted)
    assert not passing.problem and not passing.inconclusive
    assert len(asked) == 1   # the calibration is re-timed only when a regression is at stake


QAT = "scrfd_500m_kps/int8-qat/torch"   # accuracy differs between CPU models of one class


def test_a_cpu_model_row_is_kept_per_cpu_and_recording_on_one_cpu_keeps_the_other(tmp_path):
    intel, amd = "GenuineIntel-6-207", "AuthenticAMD-26-2"
    data = base_file(**{QAT: {"by_hardware": {HERE: {"hard": value(0.6034, "rI"),
                                                     "speedup": value(4.1, "rI")}}}})
    data["recordings"]["rI"] = {"machine": {"vendor": "GenuineIntel", "family": "6",
                                            "model": "207"}}
    path = write(tmp_path / "p.json", data)
    on_amd = Baselines(path, data, HERE, amd)
    # before AMD has its own value: Intel's class-wide one, under the cross-hardware tolerance
    before = on_amd.check(QAT, "hard", 0.6107)
    assert before.problem is None and before.basis == f"{HERE} (nearest)"
    new, changes = on_amd.updated({QAT: {"hard": 0.6107}}, {"git_commit": "amd"})
    by_hardware = new["variants"][QAT]["by_hardware"]
    assert by_hardware[f"{HERE}/{amd}"]["hard"]["value"] == 0.6107
    assert by_hardware[f"{HERE}/{intel}"]["hard"] == value(0.6034, "rI")   # moved, not lost
    assert by_hardware[HERE] == {"speedup": value(4.1, "rI")}   # not re-measured: stays
    assert changes == [f"{QAT} hard [{HERE}/{amd}]: (new) → 0.6107"]
    for cpu, measured in ((amd, 0.6107), (intel, 0.6034)):
        check = Baselines(path, new, HERE, cpu).check(QAT, "hard", measured)
        assert check.problem is None and check.basis == f"{HERE}/{cpu}"
    # a third CPU model of the class is gated against one of them, at the wider tolerance
    third = Baselines(path, new, HERE, "GenuineIntel-6-143").check(QAT, "hard", 0.5)
    assert third.problem.startswith("REGRESSION") and "(nearest)" in third.basis
    # rows without the flag keep one value per class
    assert Baselines(path, new, HERE, amd).scope(INT8, "hard") == HERE


def test_an_int8_speedup_is_kept_per_cpu_model_and_a_class_wide_one_belongs_to_its_recorder(tmp_path):
    """One class spans CPUs whose int8 units differ by far more than the speed tolerance."""
    intel, amd = "GenuineIntel-6-207", "AuthenticAMD-25-17"
    data = base_file(**{INT8: {"by_hardware": {HERE: {"speedup": value(3.8, "rI")}}},
                        SPARSE: {"by_hardware": {HERE: {"speedup": value(1.0, "rI")}}}})
    data["recordings"]["rI"] = {"machine": {"vendor": "GenuineIntel", "family": "6",
                                            "model": "207"}}
    path = write(tmp_path / "p.json", data)
    # the class-wide value Intel recorded is Intel's own (normal tolerance) ...
    assert Baselines(path, data, HERE, intel).stored(INT8, "speedup")[1:] == (HERE, False)
    # ... and only the nearest for another CPU model (cross-hardware tolerance)
    assert Baselines(path, data, HERE, amd).stored(INT8, "speedup")[1:] == (f"{HERE} (nearest)", True)
    new, changes = Baselines(path, data, HERE, amd).updated(
        {INT8: {"speedup": 5.5}, SPARSE: {"speedup": 0.99}}, {"git_commit": "amd"})
    by_hardware = new["variants"][INT8]["by_hardware"]
    assert by_hardware == {f"{HERE}/{intel}": {"speedup": value(3.8, "rI")},
                           f"{HERE}/{amd}": {"speedup": value(5.5, by_hardware[f"{HERE}/{amd}"]
                                                              ["speedup"]["recorded"])}}
    # fp32-kernel rows keep one speed-up per class
    assert set(new["variants"][SPARSE]["by_hardware"]) == {HERE}
    for cpu, measured in ((intel, 3.7), (amd, 5.4)):
        check = Baselines(path, new, HERE, cpu).check(INT8, "speedup", measured, two_sided=False)
        assert check.problem is None and check.basis == f"{HERE}/{cpu}"
    slow = Baselines(path, new, HERE, intel).check(INT8, "speedup", 2.0, two_sided=False)
    assert slow.problem.startswith("REGRESSION")


def test_a_class_wide_value_without_its_machine_is_not_dropped(stored):
    stored.hardware_class = OTHER
    data, _ = stored.updated({INT8: {"speedup": 1.4}}, {"git_commit": "new"})
    by_hardware = data["variants"][INT8]["by_hardware"]
    assert by_hardware[OTHER]["speedup"] == value(1.5)   # r1 names no machine: it stays
    assert by_hardware[f"{OTHER}/{stored.cpu}"]["speedup"]["value"] == 1.4
