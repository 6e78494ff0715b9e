"""Speed-up over fp32 on the same engine, measured in this session, against the baseline.

Absolute latency differs between machines and minutes; the ratio of two minimum round times
taken minutes apart on the same machine is what survives a noisy, shared runner, so only the
ratio is gated, with a wide tolerance. One-sided, unlike accuracy: a neighbour's load slows
the two measurements unequally in either direction, so "faster than the baseline" is as often
noise as news; the table still shows it. Runs after test_latency.py (files run in name order).
"""

from __future__ import annotations

import pytest

from compbench.baselines import Baselines
from compbench.results import Ledger, same_engine_reference
from compbench.variants import Variant


def test_speedup(variant: Variant, ledger: Ledger, baselines: Baselines,
                 updating_baselines: bool) -> None:
    if variant.compression == "fp32":
        pytest.skip("fp32 is the denominator (speed-up 1 by definition)")
    reference = same_engine_reference(variant)
    if reference is None:
        pytest.skip(f"{variant.model.name} has no fp32 row on {variant.engine}: its speed-up vs "
                    f"fp32/{variant.model.reference_engine} is reported, not gated")
    speedup = ledger.speedup_same_engine(ledger[variant])
    if speedup is None:
        pytest.skip(f"latency of {variant.id} or {reference.id} not measured in this session "
                    "(deselected, skipped or --benchmark-disable)")
    check = baselines.check(variant.id, "speedup", speedup, two_sided=False)
    if check.problem and not updating_baselines:
        pytest.fail(check.problem, pytrace=False)
