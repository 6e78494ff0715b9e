"""Speed-up over fp32 on the same engine, measured here as a pair, against the baseline.

Absolute latency differs between machines and minutes, so only the ratio is gated, and it is
measured by alternating the variant and its fp32 reference round by round
(``compbench/paired_timing.py``): two latency tests run minutes apart see different neighbours.
One-sided, unlike accuracy: a faster result than the baseline is reported in the table but does
not fail the run — the gate exists to catch a lost fast path (int8 kernels not used, a fusion
gone), which shows as a large drop.
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
    ledger[variant].paired_speedup = timing.speedup
    check = baselines.check(variant.id, "speedup", timing.speedup, two_sided=False)
    gate(ledger[variant], [check], updating_baselines,
         f" (paired, {timing.rounds} rounds each: fp32 {timing.reference_min_s * 1e3:.2f} ms, "
         f"{variant.compression} {timing.candidate_min_s * 1e3:.2f} ms)")
