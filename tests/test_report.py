"""The comparison table: metric columns in the task's order, whatever order results came in."""

from __future__ import annotations

import pytest

from compbench.runner.matrix import get_variant
from compbench.runner.report import model_table
from compbench.runner.results import Ledger


def test_cached_results_keep_the_metric_order_and_say_their_baseline_basis():
    ledger = Ledger()
    result = ledger[get_variant("scrfd_500m_kps/int8-ort/openvino")]
    result.metrics = {"easy": 0.8, "hard": 0.6, "medium": 0.7}  # as a cached (key-sorted) entry
    result.baseline_deltas = {"easy": 0.0, "hard": -0.01, "medium": 0.002}
    result.baseline_basis = {"easy": "x86_64-avx2 (nearest)", "size_bytes": "shared"}
    table = model_table(ledger, "scrfd_500m_kps")
    columns = list(table.columns)
    assert columns.index("AP easy") < columns.index("AP medium") < columns.index("AP hard")
    row = table.iloc[0]
    assert row["Δ vs baseline"] == "+0.0000 / +0.0020 / -0.0100"
    assert row["baseline"] == "x86_64-avx2 (nearest)"


def test_the_paired_column_shows_the_interval_and_an_undecided_verdict():
    from compbench.paired_statistics import RatioInterval

    ledger = Ledger()
    decided = ledger[get_variant("scrfd_500m_kps/int8-ort/openvino")]
    decided.speedup_interval = RatioInterval(1.84, 1.80, 1.88, rounds=60)
    undecided = ledger[get_variant("scrfd_500m_kps/int8-nncf/openvino")]
    undecided.speedup_interval = RatioInterval(1.2, 0.9, 1.6, rounds=400)
    undecided.inconclusive = ["scrfd_500m_kps/int8-nncf/openvino: straddles the floor"]
    column = model_table(ledger, "scrfd_500m_kps")["speed-up vs fp32 same engine (paired, 95 % CI)"]
    assert list(column) == ["1.84× [1.80, 1.88]", "1.20× [0.90, 1.60] inconclusive"]


def test_latency_columns_show_the_tail_not_only_the_middle():
    from compbench.runner.results import LatencySummary

    rounds_s = [0.010] * 80 + [0.012] * 15 + [0.030] * 5   # a slow tail of 5 % of the rounds
    latency = LatencySummary.of(rounds_s)
    assert (latency.min_ms, latency.p50_ms, latency.iqr_ms) == pytest.approx((10.0, 10.0, 0.0))
    assert latency.p90_ms == pytest.approx(12.0) and latency.p99_ms == pytest.approx(30.0)
    ledger = Ledger()
    ledger[get_variant("scrfd_500m_kps/fp32/torch")].latency = latency
    row = model_table(ledger, "scrfd_500m_kps").iloc[0]
    assert row["latency p50 / p90 / p99 (ms)"] == "10.00 / 12.00 / 30.00"


def test_the_evaluation_rate_column_scales_to_a_larger_data_set():
    from compbench.runner.report import EVAL_RATE_COLUMN

    ledger = Ledger()
    ledger[get_variant("scrfd_500m_kps/fp32/torch")].eval_images_per_s = 100 / 8.0
    ledger[get_variant("scrfd_500m_kps/fp32/onnxruntime")]   # an entry from before the timing
    assert list(model_table(ledger, "scrfd_500m_kps")[EVAL_RATE_COLUMN]) == ["12.5", "–"]


def test_the_floor_column_says_valid_or_below_and_colours_a_cell_below():
    from compbench.runner.accuracy_floor import Floor, FloorVerdict
    from compbench.runner.html_report import _verdict_classes
    from compbench.runner.report import FLOOR_COLUMN

    floor = Floor("scrfd_500m_kps", "hard", 0.98, "why")
    ledger = Ledger()
    ledger[get_variant("scrfd_500m_kps/fp32/torch")]
    ok = ledger[get_variant("scrfd_500m_kps/sparse/torch")]
    ok.floor = FloorVerdict(ok.variant.id, floor, 0.600, "scrfd_500m_kps/fp32/torch", 0.6)
    below = ledger[get_variant("scrfd_500m_kps/pruned/torch")]
    below.floor = FloorVerdict(below.variant.id, floor, 0.57, "scrfd_500m_kps/fp32/torch", 0.6)
    accepted = ledger[get_variant("scrfd_500m_kps/pruned/openvino")]
    accepted.floor = FloorVerdict(accepted.variant.id, floor, 0.57, "scrfd_500m_kps/fp32/torch",
                                  0.6, accepted="structured pruning")
    table = model_table(ledger, "scrfd_500m_kps")
    assert list(table[FLOOR_COLUMN]) == ["–", "VALID 100.00%", "BELOW FLOOR 95.00% < 98%",
                                         "BELOW FLOOR 95.00% < 98% (accepted)"]
    classes = _verdict_classes(list(ledger.results.values()), table)[FLOOR_COLUMN]
    assert list(classes) == ["", "", "below-floor", "below-floor-accepted"]
