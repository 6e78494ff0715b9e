"""Speed-up over fp32 on the same engine, measured here as a pair, against the baseline.

Absolute latency differs between machines and minutes, so only the ratio is gated, and it is
measured by alternating the variant and its fp32 reference round by round
(``compbench/paired_timing.py``): two latency tests run minutes apart see different neighbours.
One-sided, unlike accuracy: a faster result than the baseline is reported in the table but does
not fail the run. The pair gives a confidence interval, so the verdict is a regression only when
the whole interval lies below the floor, a pass when it lies above, and "inconclusive" (warned,
counted in the summary) when the rounds could not tell (``Baselines.check_interval``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from compbench.paired_timing import paired_timing
from runner.baselines import Baselines
from runner.gate import gate
from runner.matrix import Variant
from runner.pipeline import VariantPipeline
from runner.pytest_plugin import timing_disabled
from runner.results import Ledger, same_engine_reference


def test_speedup(variant: Variant, pipeline: VariantPipeline,
                 pipelines: Callable[[Variant], VariantPipeline], ledger: Ledger,
                 baselines: Baselines, updating_baselines: bool,
                 pytestconfig: pytest.Config) -> None:
    if variant.compression == "fp32":
        pytest.skip("fp32 is the denominator (speed-up 1 by definition)")
    reference = same_engine_reference(variant)
    if reference is None:
        pytest.skip(f"{variant.model.name} has no fp32 row on {variant.engine}: its speed-up vs "
                    f"fp32/{variant.model.reference_engine} is reported, not gated")
    if timing_disabled(pytestconfig):
        pytest.skip("timing disabled (--benchmark-disable / --benchmark-skip)")
    inputs = pipeline.benchmark_input()
    candidate, fp32 = pipeline.session, pipelines(reference).session
    timing = paired_timing(lambda: fp32.run(inputs), lambda: candidate.run(inputs))
    interval = timing.interval
    ledger[variant].paired_speedup = interval.estimate
    ledger[variant].speedup_interval = interval
    check = baselines.check_interval(variant.id, "speedup", interval)
    gate(ledger[variant], [check], updating_baselines,
         f" (fastest rounds: fp32 {timing.reference_min_s * 1e3:.2f} ms, "
         f"{variant.compression} {timing.candidate_min_s * 1e3:.2f} ms)")
