"""How sure a paired speed-up is: the Hodges–Lehmann estimate and its Wilcoxon interval.

Each round of a paired measurement times the reference and the candidate back to back, so
the round's log-ratio ``log(reference) − log(candidate)`` cancels whatever the machine was
doing during that round. The rounds' log-ratios are summarised by their Hodges–Lehmann
estimate (the median of all pairwise means, robust to the outlier rounds a shared machine
produces) with the distribution-free confidence interval that inverts the Wilcoxon signed-rank
test (Hollander & Wolfe, *Nonparametric Statistical Methods*, ch. 3) — asv's test for a
regression, made paired. Nothing assumes normal round times; only that the log-ratios are
symmetric about their centre, which holds for two models timed under the same disturbances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MIN_ROUNDS_FOR_INTERVAL = 6  # below this the signed-rank test cannot reach 95 % at all


@dataclass(frozen=True)
class RatioInterval:
    """A speed-up (reference time / candidate time) with its confidence interval."""

    estimate: float
    low: float
    high: float
    rounds: int
    confidence: float = CONFIDENCE

    @property
    def relative_width(self) -> float:
        """``high / low − 1``: 0.05 means the data pin the speed-up down to ±2.5 %."""
        return self.high / self.low - 1.0

    def describe(self) -> str:
        return (f"{self.estimate:.3f}× [{self.low:.3f}, {self.high:.3f}] "
                f"({self.confidence:.0%}, {self.rounds} rounds)")


def walsh_averages(values: np.ndarray) -> np.ndarray:
    """All pairwise means (i ≤ j), sorted: the Hodges–Lehmann statistic's sample."""
    i, j = np.triu_indices(len(values))
    return np.sort((values[i] + values[j]) / 2.0)


def signed_rank_order_statistic(n: int, confidence: float) -> int:
    """``C``: the interval runs from the C-th smallest to the C-th largest Walsh average.

    ``C − 1`` is the largest signed-rank value still in the lower ``(1 − confidence) / 2`` tail
    (Hollander & Wolfe's C_α; n = 10 at 95 % gives 9). Exact distribution up to 50 rounds, the
    normal approximation beyond, where the two agree to within one order statistic.
    """
    alpha = 1.0 - confidence
    if n <= 50:
        # the number of values w with P(W <= w) <= alpha / 2, W the signed-rank statistic
        counts = np.zeros(n * (n + 1) // 2 + 1)
        counts[0] = 1.0
        for rank in range(1, n + 1):
            counts[rank:] = counts[rank:] + counts[:-rank].copy()
        cdf = np.cumsum(counts) / 2.0 ** n
        return int(np.searchsorted(cdf, alpha / 2.0, side="right"))
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    return int(math.floor(n * (n + 1) / 4.0 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
                          + 0.5))


def speedup_interval(reference_s: Sequence[float], candidate_s: Sequence[float],
                     confidence: float = CONFIDENCE) -> RatioInterval:
    """The paired speed-up of ``candidate`` over ``reference`` from per-round times."""
    reference = np.asarray(reference_s, dtype=float)
    candidate = np.asarray(candidate_s, dtype=float)
    if reference.shape != candidate.shape or reference.ndim != 1:
        raise ValueError("paired rounds: one reference and one candidate time per round")
    if len(reference) < MIN_ROUNDS_FOR_INTERVAL:
        raise ValueError(f"{len(reference)} paired rounds: a {confidence:.0%} interval needs at "
                         f"least {MIN_ROUNDS_FOR_INTERVAL}")
    if not (np.all(reference > 0) and np.all(candidate > 0)):
        raise ValueError("round times must be positive")
    averages = walsh_averages(np.log(reference) - np.log(candidate))
    c = signed_rank_order_statistic(len(reference), confidence)
    low, high = averages[c - 1], averages[len(averages) - c]
    return RatioInterval(float(np.exp(np.median(averages))), float(np.exp(low)),
                         float(np.exp(high)), len(reference), confidence)
