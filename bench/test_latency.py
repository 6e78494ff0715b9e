"""Batch-1 latency per variant, timed by pytest-benchmark and grouped per model.

Absolute times are reported, never asserted: on a shared 2-core machine only ratios measured
in the same session mean something (see the speed-up column and gate). A variant is timed only
after its outputs passed validation (finite, evaluated): a broken artifact must not leave a
timing in pytest-benchmark's storage for ``--benchmark-compare`` to compare later runs with.
"""

from __future__ import annotations

import numpy as np
import pytest

from compbench import hardware
from runner.matrix import Variant
from runner.pipeline import VariantPipeline
from runner.results import LatencySummary, Ledger


def test_latency(benchmark, variant: Variant, pipeline: VariantPipeline, ledger: Ledger) -> None:
    pipeline.accuracy()  # cached; raises NonFiniteOutput for NaN outputs, before any timing
    inputs = pipeline.benchmark_input()
    session = pipeline.session
    # warm-up outside the timed rounds (first-call allocations, JIT caches), checked as well
    if not all(np.isfinite(np.asarray(o)).all() for o in session.run(inputs)):
        pytest.fail(f"{variant.id}: non-finite outputs on the timing input; not timed",
                    pytrace=False)
    result = ledger[variant]
    benchmark.group = variant.model.name
    benchmark.extra_info.update({
        "model": variant.model.name, "compression": variant.compression,
        "engine": variant.engine, "threads": pipeline.engine.threads,
        "hardware_class": hardware.current().hardware_class,
        "size_bytes": pipeline.size_bytes(), **result.metrics,
    })
    benchmark(session.run, inputs)
    if benchmark.stats is not None:  # None under --benchmark-disable
        result.latency = LatencySummary.of(benchmark.stats.stats.sorted_data)
