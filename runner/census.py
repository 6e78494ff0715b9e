"""Which numbers of a session's census a variant is gated on, and the gate (bench/test_census.py).

Every engine's census (``Session.census``) counts the int8 and float convolutions and matmuls
of the graph it executes and measures its conv kernels; a variant is gated on the counts and on
the one kernel measure its compression must leave behind, chosen by the recipe of each step of
its chain (a pruned-then-quantized row keeps both its channels and its int8 counts). The rest of
a census says nothing about that variant (an fp32 kernel's distinct values) and is not kept.

Until the lead records the census of the whole matrix, a census without a stored value is
reported, not failed; a stored value the census differs from fails both ways, like any metric.
docs/compression-census.md says what each engine counts and why.
"""

from __future__ import annotations

import warnings

from compbench.runner.baselines import NEAREST, UPDATE_HINT, Baselines, Check
from compbench.runner.matrix import upstream_of
from compbench.specs import Variant

COUNTS = ("int8_convs", "float_convs", "int8_matmuls", "float_matmuls")
# recipe (module:function) → the kernel measure that shows its compression is still there
KERNEL_MEASURE = {
    "compression.sparse:sparse": "zero_fraction",          # unstructured magnitude pruning
    "compression.tfmot_pruning:pruned": "zero_fraction",   # tfmot pruning: zeros, not channels
    "compression.pruned:pruned": "conv_channels",          # structured: fewer output channels
    "compression.clustered:clustered": "max_distinct_per_kernel",
}
# the direction that means "more compressed", so a change is named a regression or a stale
# baseline the right way round (both fail)
MORE_COMPRESSED_IS_HIGHER = {"int8_convs": True, "float_convs": False, "int8_matmuls": True,
                             "float_matmuls": False, "zero_fraction": True,
                             "conv_channels": False, "max_distinct_per_kernel": False}


class CensusNotRecorded(UserWarning):
    """A census measured without a stored value to gate it on (listed in the summary)."""


def gated_measures(variant: Variant) -> tuple[str, ...]:
    """The census numbers this variant is gated on: the counts, and its chain's kernel measures."""
    measures = []
    step: Variant | None = variant
    while step is not None:
        measure = KERNEL_MEASURE.get(step.recipe)
        if measure and measure not in measures:
            measures.append(measure)
        step = upstream_of(step)
    return (*COUNTS, *measures)


def selected(variant: Variant, census: dict[str, int | float]) -> dict[str, int | float]:
    """The variant's gated numbers out of a full census (an engine's missing ones stay out)."""
    return {name: census[name] for name in gated_measures(variant) if name in census}


def census_checks(baselines: Baselines, variant_id: str,
                  census: dict[str, int | float]) -> list[Check]:
    """Each number against its baseline, two-sided (the tolerances are the baseline file's:
    exact for counts). A number without a stored value is warned about, with how to record
    it, and its check carries no problem: the census is not recorded for every row yet. Nor
    does a number differing from another hardware class's fail: without VNNI an engine may
    rightly run some int8 layers another way, so only the class's own census gates it."""
    checks, missing = [], []
    for metric, value in census.items():
        check = baselines.check(variant_id, metric, value,
                                higher_is_better=MORE_COMPRESSED_IS_HIGHER.get(metric, True))
        borrowed = check.basis.endswith(NEAREST)
        if (check.baseline is None or borrowed) and check.problem:
            missing.append(f"{metric} = {value:g}"
                           + (f" (the {check.basis} class has {check.baseline:g})" if borrowed
                              else ""))
            check = Check(check.metric, check.measured, None, check.tolerance, None, check.basis)
        checks.append(check)
    if missing:
        basis = next(c.basis for c in checks if c.baseline is None)
        warnings.warn(CensusNotRecorded(
            f"{variant_id}: census {', '.join(missing)} has no baseline in {baselines.path} "
            f"({basis}); not gated until it is recorded with `{UPDATE_HINT} -k test_census` "
            "(or any session that runs bench/test_census.py)."), stacklevel=2)
    return checks


def describe(census: dict[str, int | float]) -> str:
    """One report cell: ``int8 conv 19 / float conv 0 / ...``."""
    short = {"int8_convs": "int8 conv", "float_convs": "float conv", "int8_matmuls": "int8 mm",
             "float_matmuls": "float mm", "zero_fraction": "zeros",
             "conv_channels": "channels", "max_distinct_per_kernel": "distinct/kernel"}
    return ", ".join(f"{short.get(name, name)} {value:g}" for name, value in census.items()) or "–"
