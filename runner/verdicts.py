"""The checks: what a measured value is called against its reference, as a value.

One rule for a point value (worse beyond the tolerance: a regression; better beyond it, when the
check is two-sided: a stale reference) and one for a value known only to within an interval
(the asv rule, made paired: a regression only when the whole interval lies below the floor).
The bench's gate against a baseline file and ``compbench compare`` between two checkouts call
the same two functions with the same tolerance arithmetic, so a tolerance means one thing
everywhere. Verdicts are enum members, never read back out of a message's wording: the message
is for people and may be reworded.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from compbench.paired_statistics import RatioInterval


class Verdict(StrEnum):
    """A str, so a results file, the history database and the report's cell classes store it
    as the word itself."""
    PASS = "pass"
    REGRESSION = "regression"
    STALE = "stale"
    INCONCLUSIVE = "inconclusive"
    NO_BASELINE = "no baseline"


def allowance(tolerance: dict, reference: float) -> float:
    """How far a value may move from ``reference`` under a tolerance in the baseline file's form
    (``{"abs": x}`` or ``{"rel": x}``, a fraction of the reference's magnitude)."""
    return tolerance["abs"] if "abs" in tolerance else tolerance["rel"] * abs(reference)


def lowest_allowed(reference: float, tolerance: dict) -> float:
    """The lowest a higher-is-better value may be before it regresses."""
    return reference - allowance(tolerance, reference)


def point_verdict(measured: float, reference: float, tolerance: dict, higher_is_better: bool,
                  two_sided: bool = True) -> Verdict:
    """PASS, REGRESSION, or (two-sided only) STALE: better than the reference beyond the
    tolerance, so an improvement is never silently absorbed."""
    allowed = allowance(tolerance, reference)
    delta = measured - reference
    worse = -delta if higher_is_better else delta
    if worse > allowed:
        return Verdict.REGRESSION
    if two_sided and -worse > allowed:
        return Verdict.STALE
    return Verdict.PASS


def interval_verdict(interval: RatioInterval, lowest: float,
                     unstable: Callable[[], str | None] = lambda: None,
                     confirm: Callable[[], RatioInterval] | None = None,
                     ) -> tuple[Verdict, str | None]:
    """(verdict, reason) of a higher-is-better value known to within ``interval`` against its
    floor ``lowest``:

    - REGRESSION (with the re-measurement, if any, as the reason): the whole interval lies
      below the floor (significant *and* large), unless
      ``unstable()`` — asked only then, as it may have to time something — names a reason the
      machine cannot be trusted right now, or ``confirm()`` — an independent re-measurement,
      also asked only then — does not lie wholly below the floor too: INCONCLUSIVE with that
      reason. A red verdict costs a person an investigation; a burst of load on a shared
      machine during one measurement must not be able to cause it alone, while a real
      regression is below the floor in both;
    - PASS: the whole interval lies at or above the floor;
    - INCONCLUSIVE (no reason): the interval straddles the floor — too few or too noisy rounds
      to tell; reported and counted, neither a pass nor a failure.
    """
    if interval.high < lowest:
        reason = unstable()
        if reason:
            return Verdict.INCONCLUSIVE, reason
        if confirm is None:
            return Verdict.REGRESSION, None
        again = confirm()
        if again.high >= lowest:
            return Verdict.INCONCLUSIVE, (f"an independent re-measurement, {again.describe()}, "
                                          "did not confirm it")
        return Verdict.REGRESSION, f"an independent re-measurement, {again.describe()}, confirms it"
    if interval.low < lowest:
        return Verdict.INCONCLUSIVE, None
    return Verdict.PASS, None
