"""Which variants a session's gate called red, read back from its results files.

The nightly's alert job starts here: each gate job leaves a results file
(docs/results-schema.md), and the variants in it that regressed are the ones worth a
bisection. Read from the files rather than from pytest's output, so the list is the gate's own
verdicts, not text parsed from a log.
"""

from __future__ import annotations

from compbench.runner.results import VariantResult
from compbench.runner.verdicts import Verdict


def regressed(results: dict[str, VariantResult]) -> dict[str, list[str]]:
    """Variant id → what turned it red: the metrics judged a regression against the baseline, and
    ``floor`` when it fell below its accuracy floor without an accepted reason. In the files'
    order (sorted), so two reads of the same night list the same variants first."""
    found: dict[str, list[str]] = {}
    for variant_id in sorted(results):
        result = results[variant_id]
        why = sorted(metric for metric, verdict in result.verdicts.items()
                     if verdict == Verdict.REGRESSION)
        if result.floor is not None and not result.floor.valid and not result.floor.accepted:
            why.append("floor")
        if why:
            found[variant_id] = why
    return found
