"""Serialized artifact size (every file the engine loads) against the baseline."""

from __future__ import annotations

import pytest

from compbench.baselines import Baselines
from compbench.pipeline import VariantPipeline
from compbench.results import Ledger
from compbench.variants import Variant


def test_size(variant: Variant, pipeline: VariantPipeline, baselines: Baselines,
              ledger: Ledger, updating_baselines: bool) -> None:
    size = pipeline.size_bytes()
    ledger[variant].size_bytes = size
    check = baselines.check(variant.id, "size_bytes", size, higher_is_better=False)
    if check.problem and not updating_baselines:
        pytest.fail(check.problem, pytrace=False)
