"""Batch-1 latency per variant, timed by pytest-benchmark and grouped per model.

Absolute times are reported, never asserted: on a shared 2-core machine only ratios measured
in the same session mean something (see the speed-up column and gate).
"""

from __future__ import annotations

from compbench.pipeline import VariantPipeline
from compbench.results import Ledger
from compbench.variants import Variant


def test_latency(benchmark, variant: Variant, pipeline: VariantPipeline, ledger: Ledger) -> None:
    inputs = pipeline.benchmark_input()
    session = pipeline.session
    session.run(inputs)  # warm-up outside the timed rounds (first-call allocations, JIT caches)
    result = ledger[variant]
    benchmark.group = variant.model.name
    benchmark.extra_info.update({
        "model": variant.model.name, "compression": variant.compression,
        "engine": variant.engine, "threads": pipeline.engine.threads,
        "size_bytes": pipeline.size_bytes(), **result.metrics,
    })
    benchmark(session.run, inputs)
    if benchmark.stats is not None:  # None under --benchmark-disable
        stats = benchmark.stats.stats
        result.latency_median_ms = stats.median * 1e3
        result.latency_min_ms = stats.min * 1e3
        result.latency_iqr_ms = stats.iqr * 1e3
        result.rounds = stats.rounds
