"""Each compressed variant's accuracy as a fraction of its fp32 model's, against the model's
floor (``runner.accuracy_floor``): acceptable at all, whatever the baseline says."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from runner.accuracy_floor import StaleAcceptance
from runner.baselines import Baselines
from runner.matrix import Variant, reference_of
from runner.pipeline import VariantPipeline
from runner.results import Ledger, same_engine_reference


@pytest.mark.compressed_only  # an fp32 variant is its own reference: nothing to test
def test_accuracy_floor(variant: Variant, pipeline: VariantPipeline,
                        pipelines: Callable[[Variant], VariantPipeline], baselines: Baselines,
                        ledger: Ledger) -> None:
    # fp32 on the same engine where the model runs there (the same kernels, minus the
    # compression), else on the model's reference engine
    reference = same_engine_reference(variant) or reference_of(variant)
    verdict, source = baselines.floor(variant.id, variant.model.name, pipeline.accuracy(),
                                      reference.id, pipelines(reference).accuracy())
    if verdict is None:
        pytest.fail(f"{variant.id}: no accuracy floor for model {variant.model.name!r} in "
                    f"{source}: add one under \"floors\" (metric, fraction of fp32, why)",
                    pytrace=False)
    ledger[variant].floor = verdict
    described = verdict.describe(str(source))
    if verdict.valid and verdict.accepted:
        # a warning, not a failure: an int8 row can meet its floor on one instruction set and
        # not on another, and the acceptance holds for every machine
        warnings.warn(StaleAcceptance(
            f"MEETS FLOOR {described}, although the row is listed as accepted below it "
            f"(\"below_floor_accepted\": {verdict.accepted}); if it does on every machine, "
            f"remove that entry from {source}"), stacklevel=1)
    if not verdict.valid and verdict.accepted:
        pytest.xfail(f"BELOW FLOOR (accepted: {verdict.accepted}) {described}")
    if not verdict.valid:
        pytest.fail(f"BELOW FLOOR {described}. Improve the recipe, or list the row under "
                    f"\"below_floor_accepted\" in {source} with the reason.", pytrace=False)
