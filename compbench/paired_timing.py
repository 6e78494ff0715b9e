"""Speed-up as a paired measurement: candidate and reference alternate, round by round.

Why not divide the latencies of two benchmark tests: they run minutes apart, and on a shared
machine a neighbour's job that starts in between lands on one side of the ratio only. That is
what turned a CI run red: ``sparse/torch`` (same architecture as fp32, same speed when measured
side by side) came out 0.39x against a recorded 1.5x. Alternating the two models round by round
exposes both to the same neighbours, so their ratio keeps only the difference between the models.

The order alternates (ABBA...) so neither model always runs on caches the other just warmed;
the ratio is of the per-side *minimum* round, the least-disturbed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PairedTiming:
    reference_min_s: float
    candidate_min_s: float
    rounds: int   # rounds per side

    @property
    def speedup(self) -> float:
        """How many times faster the candidate is than the reference (>1: faster)."""
        return self.reference_min_s / self.candidate_min_s


def paired_timing(reference: Callable[[], object], candidate: Callable[[], object], *,
                  min_rounds: int = 15, max_rounds: int = 400, budget_s: float = 3.0,
                  warmup: int = 2, clock: Callable[[], float] = time.perf_counter) -> PairedTiming:
    """Time both callables in alternation: at least ``min_rounds`` each, then more until
    ``budget_s`` has passed or ``max_rounds`` is reached."""
    if min_rounds < 1 or max_rounds < min_rounds:
        raise ValueError(f"need 1 <= min_rounds <= max_rounds, got {min_rounds}, {max_rounds}")
    for _ in range(warmup):
        reference()
        candidate()
    best = {"reference": float("inf"), "candidate": float("inf")}
    sides = (("reference", reference), ("candidate", candidate))
    start, rounds = clock(), 0
    while rounds < max_rounds and (rounds < min_rounds or clock() - start < budget_s):
        for name, function in (sides if rounds % 2 == 0 else sides[::-1]):
            began = clock()
            function()
            best[name] = min(best[name], clock() - began)
        rounds += 1
    return PairedTiming(best["reference"], best["candidate"], rounds)
