"""What every variant really executes, against the baseline, two-sided (runner/census.py).

A compression that stopped applying — an int8 model whose convolutions run in float after an
engine or conversion change, a pruned model whose channels came back — still runs, may even
keep its accuracy, and would be reported as a speed-up or size of something it no longer is.
The census comes from the cached accuracy step, on the session it evaluated: no second build.
"""

from __future__ import annotations

import pytest

from compbench.runner.baselines import Baselines
from compbench.runner.census import census_checks, selected
from compbench.runner.gate import gate
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.results import Ledger
from compbench.specs import Variant


def test_census(variant: Variant, pipeline: VariantPipeline, baselines: Baselines,
                ledger: Ledger, updating_baselines: bool) -> None:
    census = selected(variant, pipeline.census())
    if not census:
        pytest.fail(f"{variant.id}: no compression census in its accuracy step's result: "
                    f"either engine {variant.engine!r} does not implement Session.census "
                    "(engines/, docs/compression-census.md), or the cached entry was written by "
                    "an older runner/steps.py (remove the cache's accuracy/ folder to rebuild it)",
                    pytrace=False)
    result = ledger[variant]
    result.census = census
    gate(result, census_checks(baselines, variant.id, census), updating_baselines)
