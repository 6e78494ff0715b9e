"""Accuracy of every variant against the stored baseline, two-sided (see compbench.runner.baselines)."""

from __future__ import annotations

from compbench.runner.baselines import Baselines
from compbench.runner.gate import gate
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.results import Ledger
from compbench.specs import Variant


def test_accuracy(variant: Variant, pipeline: VariantPipeline, baselines: Baselines,
                  ledger: Ledger, updating_baselines: bool) -> None:
    metrics = pipeline.accuracy()
    result = ledger[variant]
    result.metrics = metrics
    result.eval_images_per_s = pipeline.evaluation_rate()
    checks = [baselines.check(variant.id, metric, value) for metric, value in metrics.items()]
    result.baseline_deltas = {c.metric: c.delta for c in checks if c.delta is not None}
    gate(result, checks, updating_baselines)
