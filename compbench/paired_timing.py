"""Speed-up as a paired measurement: candidate and reference alternate, round by round.

Why not divide the latencies of two benchmark tests: they run minutes apart, and on a shared
machine a neighbour's job that starts in between lands on one side of the ratio only. That is
what turned a CI run red: ``sparse/torch`` (same architecture as fp32, same speed when measured
side by side) came out 0.39x against a recorded 1.5x. Alternating the two models round by round
exposes both to the same neighbours, so their ratio keeps only the difference between the models.

The order alternates (ABBA...) so neither model always runs on caches the other just warmed.
Every round's two times are kept: the speed-up is their paired Hodges–Lehmann estimate with a
confidence interval (``compbench.paired_statistics``), so the gate can tell a slowdown from
noise instead of comparing two minima.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from compbench.paired_statistics import MIN_ROUNDS_FOR_INTERVAL, RatioInterval, speedup_interval

CHECK_EVERY = 5  # rounds between interval checks (an interval over 400 rounds sorts 80 000 means)


@dataclass(frozen=True)
class PairedTiming:
    reference_s: tuple[float, ...]   # one time per round and side, in round order
    candidate_s: tuple[float, ...]

    @property
    def rounds(self) -> int:
        """Rounds per side."""
        return len(self.reference_s)

    @property
    def reference_min_s(self) -> float:
        return min(self.reference_s)

    @property
    def candidate_min_s(self) -> float:
        return min(self.candidate_s)

    @property
    def interval(self) -> RatioInterval:
        """The speed-up (>1: the candidate is faster) with its 95 % confidence interval."""
        return speedup_interval(self.reference_s, self.candidate_s)

    @property
    def speedup(self) -> float:
        return self.interval.estimate


def paired_timing(reference: Callable[[], object], candidate: Callable[[], object], *,
                  min_rounds: int = 15, max_rounds: int = 400, budget_s: float = 3.0,
                  target_width: float = 0.04, warmup: int = 2,
                  clock: Callable[[], float] = time.perf_counter) -> PairedTiming:
    """Time both callables in alternation: at least ``min_rounds`` each, then more until the
    speed-up's confidence interval is narrower than ``target_width`` (relative), ``budget_s``
    has passed, or ``max_rounds`` is reached — a quiet machine stops early, a noisy one spends
    its budget on the rounds it needs."""
    if min_rounds < MIN_ROUNDS_FOR_INTERVAL or max_rounds < min_rounds:
        raise ValueError(f"need {MIN_ROUNDS_FOR_INTERVAL} <= min_rounds <= max_rounds, got "
                         f"{min_rounds}, {max_rounds}")
    for _ in range(warmup):
        reference()
        candidate()
    times: dict[str, list[float]] = {"reference": [], "candidate": []}
    sides = (("reference", reference), ("candidate", candidate))
    start, rounds = clock(), 0
    while rounds < max_rounds and (rounds < min_rounds or clock() - start < budget_s):
        for name, function in (sides if rounds % 2 == 0 else sides[::-1]):
            began = clock()
            function()
            times[name].append(clock() - began)
        rounds += 1
        if rounds >= min_rounds and rounds % CHECK_EVERY == 0 and _narrow_enough(times, target_width):
            break
    return PairedTiming(tuple(times["reference"]), tuple(times["candidate"]))


def _narrow_enough(times: dict[str, list[float]], target_width: float) -> bool:
    return speedup_interval(times["reference"], times["candidate"]).relative_width <= target_width
