"""Latency per variant and its speed-up over fp32 on the same engine, from one paired measurement.

pytest-benchmark times the variant's batch-1 rounds (its statistics, ``--benchmark-compare`` and
saved JSON); when the variant has an fp32 row on its engine, every round's setup or teardown
times one fp32 round too (``compbench.paired_timing``), so the same rounds give the speed-up
and its confidence interval. Timing a model once instead of twice is what keeps a warm run
short enough to be run every night.

Absolute times are reported, never asserted: on a shared 2-core machine only ratios measured in
the same session mean something. The speed-up is one-sided: faster than the baseline is reported
but does not fail; a speed-up below its floor fails only when the pair, timed again, is below it
too (``runner.verdicts.interval_verdict``). A variant is timed only after its outputs passed
validation (finite, evaluated): a broken artifact must not leave a timing in pytest-benchmark's
storage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from compbench import hardware
from compbench.allocator import keep_freed_memory
from compbench.machine_drift import MachineDrift
from compbench.paired_statistics import RatioInterval
from compbench.paired_timing import paired_timing
from compbench.runner import distributed
from compbench.runner.baselines import Baselines
from compbench.runner.gate import gate
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.pytest_plugin import FOOTPRINT, NOT_GATED, REQUIRE_ALL, pairing_plan, timing_disabled
from compbench.runner.results import LatencySummary, Ledger, same_engine_reference
from compbench.specs import Variant

THROUGHPUT_BUDGET_S = 0.5


def images_per_second(run: Callable[[np.ndarray], object], batch: np.ndarray) -> float:
    """Throughput at the evaluation batch: the median of at least three timed calls after one
    warm-up, within ``THROUGHPUT_BUDGET_S``. Reported, not gated, so measured only with
    ``--footprint`` (the nightly's): half a second per variant is a large share of a warm gate."""
    run(batch)
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - began < THROUGHPUT_BUDGET_S and len(times) < 50):
        start = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - start)
    return len(batch) / float(np.median(times))


def timing_off_by(config: pytest.Config) -> str:
    """Which switch turned timing off (``timing_disabled``), for the skip and the summary."""
    if config.getoption("benchmark_disable", False):
        return "--benchmark-disable"
    if config.getoption("benchmark_skip", False):
        return "--benchmark-skip"
    return "emulated hardware class"


def test_speed(benchmark, variant: Variant, pipeline: VariantPipeline,
               pipelines: Callable[[Variant], VariantPipeline], ledger: Ledger,
               baselines: Baselines, updating_baselines: bool, machine_drift: MachineDrift,
               pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> None:
    refused = distributed.timing_refused(pytestconfig)
    if refused and not timing_disabled(pytestconfig):
        pytest.fail(f"{variant.id}: {refused}", pytrace=False)
    pipeline.accuracy()  # cached; raises NonFiniteOutput for NaN outputs, before any timing
    inputs = pipeline.benchmark_input()
    session = pipeline.session
    # warm-up outside the timed rounds (first-call allocations, JIT caches), checked as well
    if not all(np.isfinite(np.asarray(o)).all() for o in session.run(inputs)):
        pytest.fail(f"{variant.id}: non-finite outputs on the timing input; not timed",
                    pytrace=False)
    if timing_disabled(pytestconfig):
        # a pass here would say the speed was gated: a skip (a failure for CI) that is counted
        switch = timing_off_by(pytestconfig)
        reason = f"{variant.id}: speed not gated ({switch}): nothing was timed"
        if pytestconfig.getoption(REQUIRE_ALL):
            pytest.fail(f"{reason}, and {REQUIRE_ALL} requires it", pytrace=False)
        request.node.user_properties.append((NOT_GATED, [f"speed not gated ({switch})",
                                                         variant.id]))
        pytest.skip(reason)
    result = ledger[variant]
    benchmark.group = variant.model.name
    benchmark.extra_info.update({
        "model": variant.model.name, "compression": variant.compression,
        "engine": variant.engine, "threads": pipeline.engine.threads,
        "hardware_class": hardware.current().hardware_class,
        "size_bytes": pipeline.size_bytes(), **result.metrics,
    })
    reference = None if variant.compression == "fp32" else same_engine_reference(variant)
    keep_freed_memory()  # again: loading TensorFlow resets it (compbench/allocator.py)
    if reference is None:
        benchmark(session.run, inputs)
    else:
        fp32 = pipelines(reference).session

        def through_benchmark(candidate, rounds, hooks):
            benchmark.pedantic(candidate, setup=hooks.before, teardown=hooks.after,
                               rounds=rounds, iterations=1)
            return benchmark.stats.stats.data

        timing = paired_timing(lambda: fp32.run(inputs), lambda: session.run(inputs),
                               pairing_plan(pytestconfig), runner=through_benchmark)
        # the pilot's rounds are part of the measurement but ran before pytest-benchmark's
        # own: its latency statistics (order-free) get them too, clocked the same way
        for seconds in timing.candidate_s[:timing.pilot_rounds]:
            benchmark.stats.update(seconds)
    result.latency = LatencySummary.of(benchmark.stats.stats.sorted_data)
    batch = variant.model.eval_batch
    if pytestconfig.getoption(FOOTPRINT) and batch > 1 and session.accepts_batch(batch):
        result.throughput = {1: 1e3 / result.latency.p50_ms,
                             batch: images_per_second(session.run, np.repeat(inputs, batch, axis=0))}
    if reference is None:
        return
    interval = timing.interval
    result.paired_speedup = interval.estimate
    result.speedup_interval = interval
    benchmark.extra_info["speedup"] = {  # in the saved JSON, for analyses across sessions
        "estimate": interval.estimate, "low": interval.low, "high": interval.high,
        "rounds": interval.rounds, "reference": reference.id,
        "reference_s": list(timing.reference_s)}

    def remeasured() -> RatioInterval:
        """The same pair timed again from its warm-up (pytest-benchmark's rounds are spent)."""
        return paired_timing(lambda: fp32.run(inputs), lambda: session.run(inputs),
                             pairing_plan(pytestconfig)).interval

    check = baselines.check_interval(variant.id, "speedup", interval,
                                     unstable=machine_drift.unstable_reason,
                                     confirm=None if updating_baselines else remeasured)
    gate(result, [check], updating_baselines,
         f" (fastest rounds: fp32 {timing.reference_min_s * 1e3:.2f} ms, "
         f"{variant.compression} {timing.candidate_min_s * 1e3:.2f} ms)")
