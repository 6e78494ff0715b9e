"""Baseline files: strict parsing, the two-sided gate, and explicit atomic updates."""

from __future__ import annotations

import json

import pytest

from compbench.baselines import Baselines
from compbench.errors import BaselineError

VID = "scrfd_500m_kps/fp32/torch"


def write(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def stored(tmp_path):
    return Baselines.load("p", write(tmp_path / "p.json", {
        "tolerances": {"hard": {"abs": 0.01}, "size_bytes": {"rel": 0.05}},
        "variants": {VID: {"hard": 0.70, "size_bytes": 1000}},
    }))


def test_within_tolerance_passes(stored):
    assert stored.check(VID, "hard", 0.705).problem is None
    assert stored.check(VID, "hard", 0.695).problem is None


def test_drop_beyond_tolerance_is_a_regression(stored):
    check = stored.check(VID, "hard", 0.68)
    assert check.problem.startswith("REGRESSION")
    for text in ("hard", "0.68", "0.7", "±0.01", "--update-baselines"):
        assert text in check.problem
    assert check.delta == pytest.approx(-0.02)


def test_gain_beyond_tolerance_is_a_stale_baseline(stored):
    assert stored.check(VID, "hard", 0.72).problem.startswith("STALE BASELINE")


def test_size_is_lower_is_better_with_relative_tolerance(stored):
    assert stored.check(VID, "size_bytes", 1040, higher_is_better=False).problem is None
    assert "REGRESSION" in stored.check(VID, "size_bytes", 1100, higher_is_better=False).problem
    assert "STALE" in stored.check(VID, "size_bytes", 900, higher_is_better=False).problem


def test_missing_entry_fails_with_how_to_record(stored):
    assert "no baseline" in stored.check("x/y/z", "hard", 0.5).problem


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not valid JSON"),
    ("[]", "top level"),
    ('{"tolerances": {}}', '"variants"'),
    (json.dumps({"variants": {VID: {"hard": "high"}}}), "finite number"),
    (json.dumps({"variants": {VID: {"hard": float("nan")}}}).replace("NaN", "NaN"), "finite"),
])
def test_malformed_file_is_one_clear_error(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BaselineError) as info:
        Baselines.load("bad", path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_update_merges_reports_changes_and_writes_atomically(stored):
    before = stored.path.read_text()
    data, changes = stored.updated({VID: {"hard": 0.71, "size_bytes": 1000},
                                    "m/c/e": {"top1": 0.5}}, {"git_commit": "abc"})
    assert stored.path.read_text() == before  # computing an update writes nothing
    assert changes == ["m/c/e top1: (new) → 0.5", f"{VID} hard: 0.7 → 0.71"]
    stored.write(data)
    reloaded = Baselines.load("p", stored.path)
    assert reloaded.entry(VID)["hard"] == 0.71
    assert reloaded.data["provenance"] == {"git_commit": "abc"}
    assert [p.name for p in stored.path.parent.iterdir()] == ["p.json"]  # no temp files left


def test_one_sided_gate_only_fails_on_the_worse_side(tmp_path):
    stored = Baselines.load("s", write(tmp_path / "s.json", {
        "tolerances": {"speedup": {"rel": 0.4}}, "variants": {VID: {"speedup": 2.0}}}))
    assert stored.check(VID, "speedup", 5.0, two_sided=False).problem is None
    assert stored.check(VID, "speedup", 1.1, two_sided=False).problem.startswith("REGRESSION")
