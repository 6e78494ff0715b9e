"""Per-variant results gathered during a session, rendered once into the comparison table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compbench.paired_statistics import RatioInterval
from runner.accuracy_floor import FloorVerdict
from runner.matrix import VARIANTS, Variant, reference_of


def same_engine_reference(variant: Variant) -> Variant | None:
    return VARIANTS.get(f"{variant.model.name}/fp32/{variant.engine}")


@dataclass(frozen=True)
class LatencySummary:
    """A latency test's rounds, in ms: the tail (p90, p99) is what a user of the model waits
    for on a busy machine, the minimum what the cross-engine ratio uses (least disturbed)."""

    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    iqr_ms: float

    @classmethod
    def of(cls, rounds_s) -> LatencySummary:
        ms = np.asarray(rounds_s, dtype=float) * 1e3
        p25, p50, p75, p90, p99 = np.percentile(ms, [25, 50, 75, 90, 99])
        return cls(float(ms.min()), float(p50), float(p90), float(p99), float(p75 - p25))


@dataclass
class VariantResult:
    variant: Variant
    threads: int | None = None
    latency: LatencySummary | None = None
    paired_speedup: float | None = None   # vs fp32 on the same engine, see paired_timing.py
    speedup_interval: RatioInterval | None = None  # its 95 % confidence interval
    size_bytes: int | None = None
    gzip_size_bytes: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_deltas: dict[str, float] = field(default_factory=dict)
    # metric → what it was gated against: "shared", a hardware class, "<class> (nearest)"
    baseline_basis: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)   # metric → Check.verdict
    # runner.steps.footprint: rss_before_mb, peak_rss_mb, startup_s (fresh process, one thread)
    footprint: dict[str, float] = field(default_factory=dict)
    throughput: dict[int, float] = field(default_factory=dict)   # batch size → images/s
    # the accuracy step's whole evaluation (reading, pre- and post-processing included, one
    # thread, when its cache entry was built): what scales to a larger data set's eval time
    eval_images_per_s: float | None = None
    floor: FloorVerdict | None = None     # accuracy as a fraction of fp32's, vs the floor
    not_gated: str | None = None          # why the variant could not run here (a skip)
    inconclusive: list[str] = field(default_factory=list)  # checks that could not decide


class Ledger:
    """Session-wide store the bench tests write into and the terminal summary reads."""

    def __init__(self) -> None:
        self.results: dict[str, VariantResult] = {}

    def __getitem__(self, variant: Variant) -> VariantResult:
        if variant.id not in self.results:
            self.results[variant.id] = VariantResult(variant)
        return self.results[variant.id]

    def speedup(self, result: VariantResult, reference: Variant | None = None) -> float | None:
        """Latency ratio to a reference variant (default: the model's fp32 reference) measured
        in this same session.

        Ratio of the *minimum* round times: on a shared machine the minimum is the round least
        disturbed by neighbours, so it is far more stable than the median (which is reported).
        """
        reference = reference or reference_of(result.variant)
        baseline = self.results.get(reference.id)
        if not baseline or not baseline.latency or not result.latency:
            return None
        return baseline.latency.min_ms / result.latency.min_ms

    def measured_for_baseline(self) -> dict[str, dict[str, float]]:
        values: dict[str, dict[str, float]] = {}
        for variant_id, result in self.results.items():
            entry = {metric: round(value, 6) for metric, value in result.metrics.items()}
            if result.size_bytes is not None:
                entry["size_bytes"] = result.size_bytes
            speedup = result.paired_speedup
            if speedup is not None and result.variant.compression != "fp32":
                entry["speedup"] = round(speedup, 3)
            if result.gzip_size_bytes is not None:
                entry["size_gzip_bytes"] = result.gzip_size_bytes
            if entry:
                values[variant_id] = entry
        return values
