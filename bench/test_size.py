"""Serialized artifact size (every file the engine loads), raw and gzip-compressed, against the
baseline."""

from __future__ import annotations

from compbench.runner.baselines import Baselines
from compbench.runner.gate import gate
from compbench.runner.gzip_size import gzip_size_bytes
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.results import Ledger
from compbench.specs import Variant


def test_size(variant: Variant, pipeline: VariantPipeline, baselines: Baselines,
              ledger: Ledger, updating_baselines: bool) -> None:
    artifact = pipeline.convert()
    result = ledger[variant]
    result.size_bytes = artifact.size_bytes
    result.gzip_size_bytes = gzip_size_bytes(artifact, pipeline.cache)
    checks = [baselines.check(variant.id, "size_bytes", result.size_bytes, higher_is_better=False),
              baselines.check(variant.id, "size_gzip_bytes", result.gzip_size_bytes,
                              higher_is_better=False)]
    gate(result, checks, updating_baselines)
