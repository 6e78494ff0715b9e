"""Each compressed variant's accuracy as a fraction of its fp32 model's, against the model's
floor (``compbench.runner.accuracy_floor``): acceptable at all, whatever the baseline says."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from compbench.runner.accuracy_floor import (
    ACCEPTED,
    EVERY_CLASS,
    StaleAcceptance,
    accepted_classes,
    row_of,
)
from compbench.runner.baselines import Baselines
from compbench.runner.matrix import reference_of
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.pytest_plugin import STALE_ACCEPTANCE, STRICT_ACCEPTANCES
from compbench.runner.results import Ledger, same_engine_reference
from compbench.specs import Variant


@pytest.mark.compressed_only  # an fp32 variant is its own reference: nothing to test
def test_accuracy_floor(variant: Variant, pipeline: VariantPipeline,
                        pipelines: Callable[[Variant], VariantPipeline], baselines: Baselines,
                        ledger: Ledger, request: pytest.FixtureRequest) -> None:
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
    row, here = row_of(variant.id), baselines.hardware_class
    accepted_on = accepted_classes(baselines.floors()[0], row)
    # An acceptance expires when the row clears its floor by more than the metric's own
    # tolerance: closer than that, a rebuild on another CPU model of the class may fall back.
    tolerance = baselines.tolerance(variant.id, verdict.floor.metric).get("abs", 0.0)
    if verdict.valid and verdict.accepted and verdict.margin() >= tolerance:
        stale = (f"{row} on {here}: {verdict.floor.metric} at {verdict.fraction:.2%} of fp32 "
                 f"meets the {verdict.floor.fraction:.0%} floor by {verdict.margin():.4f}, more "
                 f"than its tolerance {tolerance:g} ({variant.id}); remove it from "
                 f"{source} {ACCEPTED}" + (f' (its "{here}" key)' if accepted_on != EVERY_CLASS
                                           else ""))
        request.node.user_properties.append((STALE_ACCEPTANCE, stale))
        if request.config.getoption(STRICT_ACCEPTANCES):
            pytest.fail(f"STALE ACCEPTANCE {stale}. {described}; accepted below it on this "
                        f"class because: {verdict.accepted}", pytrace=False)
        # a warning by default: the acceptances of another class's CI may lag this one's
        warnings.warn(StaleAcceptance(
            f"MEETS FLOOR {described}, although the row is listed as accepted below it on "
            f"{here} (\"{ACCEPTED}\": {verdict.accepted}); remove that entry from {source}"),
            stacklevel=1)
    if not verdict.valid and verdict.accepted:
        pytest.xfail(f"BELOW FLOOR (accepted on {here}: {verdict.accepted}) {described}")
    if not verdict.valid:
        hint = (f" (it is accepted on {accepted_on} only: add a \"{here}\" key with the "
                "measured reason if this class loses precision too)" if accepted_on else "")
        pytest.fail(f"BELOW FLOOR on {here}: {described}. Improve the recipe, or list the row "
                    f"under \"{ACCEPTED}\" in {source} with the reason{hint}.", pytrace=False)

