"""Serialized artifact size (every file the engine loads), raw and gzip-compressed, against the
baseline."""

from __future__ import annotations

from compbench.specs import Variant
from runner.baselines import Baselines
from runner.gate import gate
from runner.pipeline import VariantPipeline
from runner.results import Ledger


def test_size(variant: Variant, pipeline: VariantPipeline, baselines: Baselines,
              ledger: Ledger, updating_baselines: bool) -> None:
    artifact = pipeline.convert()
    result = ledger[variant]
    result.size_bytes = artifact.size_bytes
    result.gzip_size_bytes = artifact.gzip_size_bytes
    checks = [baselines.check(variant.id, "size_bytes", result.size_bytes, higher_is_better=False),
              baselines.check(variant.id, "size_gzip_bytes", result.gzip_size_bytes,
                              higher_is_better=False)]
    gate(result, checks, updating_baselines)
