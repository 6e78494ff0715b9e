"""Per-variant results gathered during a session, rendered once into the comparison table."""

from __future__ import annotations

from dataclasses import dataclass, field

from compbench.variants import Variant, reference_of


@dataclass
class VariantResult:
    variant: Variant
    threads: int | None = None
    latency_median_ms: float | None = None
    latency_iqr_ms: float | None = None
    rounds: int | None = None
    speedup_same_engine: float | None = None
    size_bytes: int | None = None
    gzip_size_bytes: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_deltas: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Ledger:
    """Session-wide store the bench tests write into and the terminal summary reads."""

    def __init__(self) -> None:
        self.results: dict[str, VariantResult] = {}

    def __getitem__(self, variant: Variant) -> VariantResult:
        if variant.id not in self.results:
            self.results[variant.id] = VariantResult(variant)
        return self.results[variant.id]

    def speedup(self, result: VariantResult) -> float | None:
        """Median latency ratio to the model's fp32 reference measured in this same session."""
        reference = self.results.get(reference_of(result.variant).id)
        if not reference or not reference.latency_median_ms or not result.latency_median_ms:
            return None
        return reference.latency_median_ms / result.latency_median_ms

    def measured_for_baseline(self) -> dict[str, dict[str, float]]:
        values: dict[str, dict[str, float]] = {}
        for variant_id, result in self.results.items():
            entry = {metric: round(value, 6) for metric, value in result.metrics.items()}
            if result.size_bytes is not None:
                entry["size_bytes"] = result.size_bytes
            if result.speedup_same_engine is not None:
                entry["speedup"] = round(result.speedup_same_engine, 3)
            if result.gzip_size_bytes is not None:
                entry["size_gzip_bytes"] = result.gzip_size_bytes
            if entry:
                values[variant_id] = entry
        return values
