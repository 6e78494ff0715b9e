"""Accuracy floors relative to fp32 (compbench.runner.accuracy_floor) and baselines tied to their recipe."""

from __future__ import annotations

import json

import pytest

from compbench.errors import BaselineError
from compbench.runner.accuracy_floor import EVERY_CLASS, FloorVerdict, accepted_classes
from compbench.runner.baselines import DEFAULT_PROFILE, Baselines, empty, recipe_of
from compbench.runner.pytest_plugin import FLOOR_TEST, may_record

PRUNED = "scrfd_500m_kps/pruned/torch"
FP32 = "scrfd_500m_kps/fp32/torch"
FLOOR = {"metric": "hard", "fraction": 0.98, "why": "the mini set's resolution"}


def file_with(tmp_path, name="default", **extra) -> Baselines:
    data = {**empty(name), **extra}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return Baselines.load(name, path)


def judge(baselines: Baselines, measured: float, variant_id: str = PRUNED,
          hardware_class: str | None = None) -> FloorVerdict:
    baselines.hardware_class = hardware_class or baselines.hardware_class
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


def test_a_per_class_acceptance_holds_only_on_the_classes_it_names(tmp_path):
    baselines = file_with(tmp_path, floors={"scrfd_500m_kps": FLOOR}, below_floor_accepted={
        "scrfd_500m_kps/pruned": {"x86_64-avx2": "saturating int16", "x86_64-amx": "unmeasured"}})
    avx2 = judge(baselines, 0.58, hardware_class="x86_64-avx2")
    assert avx2.accepted == "saturating int16" and avx2.label.endswith("(accepted)")
    assert judge(baselines, 0.58, hardware_class="x86_64-amx").accepted == "unmeasured"
    vnni = judge(baselines, 0.58, hardware_class="x86_64-avx512-vnni")
    assert vnni.accepted is None and not vnni.label.endswith("(accepted)")
    data, _ = baselines.floors()
    assert accepted_classes(data, "scrfd_500m_kps/pruned") == "x86_64-amx, x86_64-avx2"
    assert accepted_classes(data, "scrfd_500m_kps/sparse") is None


def test_a_text_acceptance_holds_on_every_class(tmp_path):
    baselines = file_with(tmp_path, floors={"scrfd_500m_kps": FLOOR},
                          below_floor_accepted={"scrfd_500m_kps/pruned": "structured pruning"})
    for hardware_class in ("x86_64-avx2", "x86_64-amx", "aarch64-generic"):
        assert judge(baselines, 0.58, hardware_class=hardware_class).accepted == "structured pruning"
    assert accepted_classes(baselines.floors()[0], "scrfd_500m_kps/pruned") == EVERY_CLASS


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


@pytest.mark.parametrize("accepted, fault", [
    ({"scrfd_500m_kps/pruned/torch": "x"}, "a row is"),
    ({"scrfd_500m_kps/pruned": ""}, '["scrfd_500m_kps/pruned"] must give the reason'),
    ({"scrfd_500m_kps/pruned": 3}, '["scrfd_500m_kps/pruned"] must give the reason'),
    ({"scrfd_500m_kps/pruned": {}}, "names no hardware class"),
    ({"scrfd_500m_kps/pruned": {"x86_64-avx2": " "}},
     '["scrfd_500m_kps/pruned"]["x86_64-avx2"] must give the reason'),
    ({"scrfd_500m_kps/pruned": {"x86_64-avx2": ["int16"]}}, '["x86_64-avx2"] must give'),
    ({"scrfd_500m_kps/pruned": {"avx2": "int16"}}, "'avx2' is not a hardware class"),
    ({"scrfd_500m_kps/pruned": {"x86_64-avx512vnni": "x"}}, "'x86_64-avx512vnni' is not a"),
    ({"scrfd_500m_kps/pruned": {"x86_64-avx512-vnni/AuthenticAMD-25-17": "x"}},
     "a CPU model"),
])
def test_a_malformed_acceptance_is_one_error_naming_the_row(tmp_path, accepted, fault):
    path = tmp_path / "default.json"
    path.write_text(json.dumps({**empty("default"), "below_floor_accepted": accepted}))
    with pytest.raises(BaselineError, match="malformed") as raised:
        Baselines.load("default", path)
    assert fault in str(raised.value) and str(path) in str(raised.value)


def test_every_class_name_the_hardware_module_makes_is_accepted(tmp_path):
    from compbench.hardware import INT8_TIERS, classify

    names = [classify("x86_64", set(flags)) for _, flags in INT8_TIERS] + [
        classify("aarch64", set())]
    path = tmp_path / "default.json"
    path.write_text(json.dumps({**empty("default"), "below_floor_accepted": {
        "scrfd_500m_kps/pruned": dict.fromkeys(names, "measured below")}}))
    assert Baselines.load("default", path).data["below_floor_accepted"]


def test_the_committed_file_has_a_floor_with_a_reason_for_every_model():
    from compbench.bench.suite import MODELS

    baselines = Baselines.load(DEFAULT_PROFILE)
    data, _ = baselines.floors()
    assert set(data["floors"]) == set(MODELS)
    assert all(f["why"] for f in data["floors"].values())


def stored_fractions(data: dict) -> dict[tuple[str, str], list[float]]:
    """(row, hardware class) -> every engine's stored accuracy as a fraction of its fp32
    reference's, as the floor test picks that reference."""
    from compbench.runner.accuracy_floor import row_of
    from compbench.runner.matrix import VARIANTS, reference_of
    from compbench.runner.results import same_engine_reference

    def values(variant_id: str, metric: str) -> dict[str, float]:
        entry = data["variants"].get(variant_id, {})
        found = {key.partition("/")[0]: scope[metric]["value"]
                 for key, scope in entry.get("by_hardware", {}).items() if metric in scope}
        if metric in entry.get("shared", {}):
            found["shared"] = entry["shared"][metric]["value"]
        return found

    fractions: dict[tuple[str, str], list[float]] = {}
    for variant_id, variant in VARIANTS.items():
        floor = data["floors"].get(variant.model.name)
        if variant.compression == "fp32" or floor is None:
            continue
        reference = values((same_engine_reference(variant) or reference_of(variant)).id,
                           floor["metric"])
        for key, value in values(variant_id, floor["metric"]).items():
            base = reference.get(key, reference.get("shared"))
            if base:
                fractions.setdefault((row_of(variant_id), key), []).append(value / base)
    return fractions


def test_no_acceptance_names_a_class_where_the_files_own_values_meet_the_floor():
    """``--strict-acceptances`` in CI fails such an acceptance; and one text for every class
    hides a class where the row is gated again. ("shared": a value the same on every class.)"""
    data, _ = Baselines.load(DEFAULT_PROFILE).floors()
    fractions = stored_fractions(data)
    stale = []
    for row, reasons in data["below_floor_accepted"].items():
        floor = data["floors"][row.partition("/")[0]]["fraction"]
        for (of_row, key), measured in fractions.items():
            named = reasons if isinstance(reasons, str) else reasons.get(key)
            if of_row == row and named and all(f >= floor for f in measured):
                stale.append(f"{row} on {key}: {', '.join(f'{f:.2%}' for f in measured)}")
    assert not stale, stale


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
    from compbench.runner import baselines as module

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
