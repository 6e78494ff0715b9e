"""Accuracy floors relative to fp32 (runner.accuracy_floor) and baselines tied to their recipe."""

from __future__ import annotations

import json

import pytest

from compbench.errors import BaselineError
from runner.accuracy_floor import FloorVerdict
from runner.baselines import DEFAULT_PROFILE, Baselines, empty, recipe_of
from runner.pytest_plugin import FLOOR_TEST, may_record

PRUNED = "scrfd_500m_kps/pruned/torch"
FP32 = "scrfd_500m_kps/fp32/torch"
FLOOR = {"metric": "hard", "fraction": 0.98, "why": "the mini set's resolution"}


def file_with(tmp_path, name="default", **extra) -> Baselines:
    data = {**empty(name), **extra}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return Baselines.load(name, path)


def judge(baselines: Baselines, measured: float, variant_id: str = PRUNED) -> FloorVerdict:
    verdict, _ = baselines.floor(variant_id, "scrfd_500m_kps", {"hard": measured, "easy": 0.8},
                                 FP32, {"hard": 0.60, "easy": 0.81})
    return verdict


def test_a_variant_at_or_above_its_floor_is_valid(tmp_path):
    baselines = file_with(tmp_path, floors={"scrfd_500m_kps": FLOOR})
    assert judge(baselines, 0.60 * 0.98).valid
    verdict = judge(baselines, 0.597)
    assert verdict.valid and verdict.label == "VALID 99.50%"


def test_below_the_floor_names_the_floor_and_its_reason(tmp_path):
    baselines = file_with(tmp_path, floors={"scrfd_500m_kps": FLOOR})
    verdict = judge(baselines, 0.58)
    assert not verdict.valid and verdict.accepted is None
    assert verdict.label == "BELOW FLOOR 96.67% < 98%"
    text = verdict.describe("baselines/default.json")
    for part in ("0.5800", "96.67%", "0.6000", FP32, "98%", "the mini set's resolution",
                 'floors["scrfd_500m_kps"]'):
        assert part in text


def test_an_accepted_row_carries_its_reason_on_every_engine(tmp_path):
    baselines = file_with(tmp_path, floors={"scrfd_500m_kps": FLOOR},
                          below_floor_accepted={"scrfd_500m_kps/pruned": "structured pruning"})
    for engine in ("torch", "openvino"):
        verdict = judge(baselines, 0.58, f"scrfd_500m_kps/pruned/{engine}")
        assert verdict.accepted == "structured pruning"
        assert verdict.label.endswith("(accepted)")
    assert judge(baselines, 0.58, "scrfd_500m_kps/sparse/torch").accepted is None


def test_a_model_without_a_floor_has_no_verdict(tmp_path):
    assert judge(file_with(tmp_path, floors={}), 0.1) is None


def test_a_profile_without_floors_uses_the_default_profiles(tmp_path):
    file_with(tmp_path, DEFAULT_PROFILE, floors={"scrfd_500m_kps": FLOOR})
    full = file_with(tmp_path, "full")
    verdict, source = full.floor(PRUNED, "scrfd_500m_kps", {"hard": 0.5}, FP32, {"hard": 0.6})
    assert not verdict.valid and source.name == "default.json"
    own = file_with(tmp_path, "own", floors={"scrfd_500m_kps": {**FLOOR, "fraction": 0.8}})
    assert own.floor(PRUNED, "scrfd_500m_kps", {"hard": 0.5}, FP32, {"hard": 0.6})[0].valid


@pytest.mark.parametrize("floors, fault", [
    ({"scrfd_500m_kps": {**FLOOR, "fraction": 1.5}}, '["fraction"] must be a number in (0, 1]'),
    ({"scrfd_500m_kps": {**FLOOR, "fraction": True}}, '["fraction"] must be a number'),
    ({"scrfd_500m_kps": {**FLOOR, "metric": "mAP"}}, "unknown metric 'mAP'"),
    ({"scrfd_500m_kps": {**FLOOR, "why": " "}}, "must say why"),
    ({"scrfd_500m_kps": {"metric": "hard", "fraction": 0.9}}, "must be {"),
    ([], "must be an object of models"),
])
def test_a_malformed_floor_is_one_error_naming_the_key(tmp_path, floors, fault):
    path = tmp_path / "default.json"
    path.write_text(json.dumps({**empty("default"), "floors": floors}))
    with pytest.raises(BaselineError, match="malformed") as raised:
        Baselines.load("default", path)
    assert fault in str(raised.value) and str(path) in str(raised.value)


def test_an_acceptance_needs_a_row_and_a_reason(tmp_path):
    for accepted, fault in (({"scrfd_500m_kps/pruned/torch": "x"}, "a row is"),
                            ({"scrfd_500m_kps/pruned": ""}, "must give the reason")):
        path = tmp_path / "default.json"
        path.write_text(json.dumps({**empty("default"), "below_floor_accepted": accepted}))
        with pytest.raises(BaselineError, match="malformed") as raised:
            Baselines.load("default", path)
        assert fault in str(raised.value)


def test_the_committed_file_has_a_floor_with_a_reason_for_every_model():
    from runner.matrix import MODELS

    baselines = Baselines.load(DEFAULT_PROFILE)
    data, _ = baselines.floors()
    assert set(data["floors"]) == set(MODELS)
    assert all(f["why"] for f in data["floors"].values())


def test_only_floor_failures_let_a_recording_go_ahead():
    floor = f"bench/test_floor.py::{FLOOR_TEST}[scrfd_500m_kps/pruned/torch]"
    accuracy = "bench/test_accuracy.py::test_accuracy[scrfd_500m_kps/pruned/torch]"
    assert may_record(0, [], 0)
    assert may_record(1, [floor], 1)
    assert not may_record(1, [floor, accuracy], 2)
    assert not may_record(1, [floor], 2)          # a failure not seen by a test (collection)
    assert not may_record(2, [], 0)               # interrupted
    assert not may_record(4, [floor], 1)


# -- baselines remember the recipe they measured --------------------------------------------

def recorded(tmp_path, recipe: str) -> Baselines:
    return file_with(tmp_path, "p", recordings={"r1": {"git_commit": "abc"}}, variants={
        PRUNED: {"recipe": recipe, "shared": {"hard": {"value": 0.60, "recorded": "r1"}},
                 "by_hardware": {"x86_64-amx": {"speedup": {"value": 1.1, "recorded": "r1"}}}}})


def test_values_of_another_recipe_are_a_stale_baseline_not_a_pass(tmp_path):
    now = recipe_of(PRUNED)
    assert "ratio=" in now and now.startswith("compression.pruned:pruned(")
    assert recorded(tmp_path, now).check(PRUNED, "hard", 0.60).problem is None
    old = now.replace("ratio=", "ratio=0.9, was=")
    check = recorded(tmp_path, old).check(PRUNED, "hard", 0.60)   # same value, other recipe
    assert check.verdict == "stale"
    assert old in check.problem and now in check.problem and "--update-baselines" in check.problem


def test_recording_a_new_recipe_drops_every_machines_old_values(tmp_path):
    now = recipe_of(PRUNED)
    stale = recorded(tmp_path, now.replace("ratio=", "ratio=0.9, was="))
    stale.hardware_class = "x86_64-avx2"
    data, changes = stale.updated({PRUNED: {"hard": 0.61}}, {"git_commit": "def"})
    entry = data["variants"][PRUNED]
    assert entry["recipe"] == now
    assert "by_hardware" not in entry          # the amx machine's speed-up measured the old one
    assert entry["shared"]["hard"]["value"] == 0.61
    assert any("dropped" in line for line in changes)
    same = recorded(tmp_path, now)
    data, _ = same.updated({PRUNED: {"hard": 0.61}}, {"git_commit": "def"})
    assert data["variants"][PRUNED]["by_hardware"]["x86_64-amx"]["speedup"]["value"] == 1.1


def test_retrained_in_repo_weights_are_another_model_on_every_machine(tmp_path, monkeypatch):
    """A ViT retrained here and re-recorded on one machine must not leave the other machines'
    int8 values (measured on the old weights) gating the new model."""
    from compbench.assets import Assets
    from runner import baselines as module

    vit_int8 = "vit/int8-static/onnxruntime"
    now = recipe_of(vit_int8)
    digest = Assets().weights_digest("repo:models/cifar/weights/vit_cifar10")[:12]
    assert now.endswith(f" on repo:models/cifar/weights/vit_cifar10@{digest}")
    assert recipe_of(PRUNED).endswith(")")     # asset weights are pinned by their checksums
    before = file_with(tmp_path, "p", recordings={"r1": {"git_commit": "abc"}}, variants={
        vit_int8: {"recipe": now, "shared": {"size_bytes": {"value": 800_000, "recorded": "r1"}},
                   "by_hardware": {"x86_64-avx2": {"top1": {"value": 0.49, "recorded": "r1"}}}}})
    module.trained_here.cache_clear()
    monkeypatch.setattr(Assets, "weights_digest", lambda self, ref: "f" * 64)  # retrained
    try:
        assert before.check(vit_int8, "size_bytes", 800_000).verdict == "stale"
        data, changes = before.updated({vit_int8: {"size_bytes": 810_000}}, {"git_commit": "d"})
    finally:
        module.trained_here.cache_clear()
    assert "by_hardware" not in data["variants"][vit_int8]   # the AVX2 top-1 of the old ViT
    assert data["variants"][vit_int8]["recipe"].endswith("@ffffffffffff")
