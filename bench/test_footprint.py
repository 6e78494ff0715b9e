"""Memory and start-up of every variant, reported beside speed and accuracy (not gated).

Measured in a fresh process per artifact and engine (``compbench.runner.steps.footprint``), cached by
content like an evaluation: the peak resident memory (VmHWM) after loading the artifact and ten
batch-1 forwards, the resident memory before the engine was touched, and the time from
importing the engine's library to the first output. Not gated: a process's peak RSS moves with
library versions and allocator state by more than a model's own weights; the history keeps it.
"""

from __future__ import annotations

import math

import pytest

from compbench.runner.pipeline import VariantPipeline
from compbench.runner.pytest_plugin import FOOTPRINT
from compbench.runner.results import Ledger
from compbench.specs import Variant


def test_footprint(variant: Variant, pipeline: VariantPipeline, ledger: Ledger,
                   pytestconfig: pytest.Config) -> None:
    if not pytestconfig.getoption(FOOTPRINT):
        # a fresh process per variant costs minutes of a cold run and gates nothing
        pytest.skip(f"footprint not measured: opt in with {FOOTPRINT} (the nightly does)")
    footprint = pipeline.footprint
    ledger[variant].footprint = footprint
    values = [footprint["rss_before_mb"], footprint["peak_rss_mb"], footprint["startup_s"]]
    if not all(math.isfinite(v) and v > 0 for v in values) \
            or footprint["peak_rss_mb"] < footprint["rss_before_mb"]:
        pytest.fail(f"{variant.id}: implausible footprint {footprint} (peak below the RSS before "
                    "loading, or not positive): the measurement in runner/steps.py is broken",
                    pytrace=False)
