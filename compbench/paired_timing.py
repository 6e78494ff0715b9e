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

How many rounds: a short pilot pair measures how much the per-round ratio scatters, and the
width of a signed-rank interval shrinks like 1/sqrt(rounds), so the pilot says how many rounds
reach the target width; the time budget caps it. Planning the count up front (instead of
stopping when the interval is narrow) is what lets pytest-benchmark run the candidate's rounds
itself, with the reference timed in its setup/teardown: one measurement feeds both the latency
statistics and the speed-up.

The pilot's rounds count in the measurement (``PairingPlan.pilot_counts``): they are rounds
like any other, timed in the same ABBA order after the same warm-up, so throwing them away
only made every pair pay for them twice, and most pairs reach the target width at the
minimum. The interval is then computed over pilot + further rounds, where the number of
further rounds depended on the pilot's scatter — a mild form of optional stopping, which
could in principle make the interval cover less often than 95 %. docs/speed-gate-study
("Counting the pilot") measured the gate's false alarms and sensitivity both ways and says
which plan is the default, and why; the other stays available for comparison.
The pilot runs in a plain loop, not through the runner (pytest-benchmark's pedantic mode can
run only once per test), so ``PairedTiming.pilot_rounds`` tells a runner's owner which leading
rounds it did not see.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compbench.paired_statistics import MIN_ROUNDS_FOR_INTERVAL, RatioInterval, speedup_interval

Clock = Callable[[], float]


@dataclass(frozen=True)
class PairingPlan:
    """How a pair is measured. The defaults are the bench's; docs/speed-gate-study measures
    what they detect and how often they cry wolf."""

    pilot_rounds: int = 10
    min_rounds: int = 15
    max_rounds: int = 400
    budget_s: float = 3.0          # for the measured rounds of one pair, both sides
    target_width: float = 0.08     # relative interval width worth stopping at
    warmup: int = 2
    pilot_counts: bool = True      # the pilot's rounds are part of the measured ones

    def __post_init__(self) -> None:
        if not (MIN_ROUNDS_FOR_INTERVAL <= self.pilot_rounds
                and MIN_ROUNDS_FOR_INTERVAL <= self.min_rounds <= self.max_rounds):
            raise ValueError(f"need {MIN_ROUNDS_FOR_INTERVAL} <= pilot_rounds and "
                             f"{MIN_ROUNDS_FOR_INTERVAL} <= min_rounds <= max_rounds, got {self}")

    def rounds_after(self, pilot: PairedTiming) -> int:
        """Rounds to run after the pilot so the measurement's interval narrows to
        ``target_width``, within budget. When the pilot counts, the rounds it already has are
        subtracted from what the width, ``min_rounds`` and ``max_rounds`` ask for; the budget
        still buys the further rounds only, so a noisy pair takes as long as before and keeps
        the pilot's rounds on top. At least one further round: the runner's owner
        (pytest-benchmark) must have timed something."""
        width = pilot.interval.relative_width
        wanted = math.ceil(pilot.rounds * (width / self.target_width) ** 2) if width > 0 else 0
        per_round = (sum(pilot.reference_s) + sum(pilot.candidate_s)) / pilot.rounds
        affordable = int(self.budget_s / per_round) if per_round > 0 else self.max_rounds
        had = pilot.rounds if self.pilot_counts else 0
        return max(1, self.min_rounds - had,
                   min(wanted - had, affordable, self.max_rounds - had))


@dataclass(frozen=True)
class PairedTiming:
    reference_s: tuple[float, ...]   # one time per round and side, in round order
    candidate_s: tuple[float, ...]
    pilot_rounds: int = 0            # how many of the leading rounds are the pilot's

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


class ReferenceRounds:
    """The reference side of an alternating pair, as hooks around each candidate round: it runs
    before the candidate in even rounds and after it in odd ones (ABBA), timing itself."""

    def __init__(self, reference: Callable[[], object], clock: Clock = time.perf_counter,
                 measures_itself: bool = False):
        self.reference = reference
        self.clock = clock
        self.measures_itself = measures_itself  # reference() returns its own duration
        self.times: list[float] = []
        self.round = 0

    def before(self) -> None:
        if self.round % 2 == 0:
            self._time()

    def after(self, *_args, **_kwargs) -> None:  # pytest-benchmark passes the round's args
        if self.round % 2 == 1:
            self._time()
        self.round += 1

    def _time(self) -> None:
        self.times.append(_timed(self.reference, self.clock, self.measures_itself))


def _timed(function: Callable[[], object], clock: Clock, measures_itself: bool) -> float:
    if measures_itself:  # e.g. a worker process that times its own forward pass
        return float(function())
    began = clock()
    function()
    return clock() - began


# runs ``rounds`` timed candidate rounds, calling before() / after() around each, and returns
# the candidate's round times in order (pytest-benchmark's pedantic mode is one such runner)
CandidateRunner = Callable[[Callable[[], object], int, ReferenceRounds], Sequence[float]]


def timed_loop(clock: Clock = time.perf_counter, measures_itself: bool = False) -> CandidateRunner:
    def run(candidate: Callable[[], object], rounds: int, reference: ReferenceRounds):
        times = []
        for _ in range(rounds):
            reference.before()
            times.append(_timed(candidate, clock, measures_itself))
            reference.after()
        return times
    return run


def paired_timing(reference: Callable[[], object], candidate: Callable[[], object],
                  plan: PairingPlan = PairingPlan(), *, runner: CandidateRunner | None = None,
                  clock: Clock = time.perf_counter, measures_itself: bool = False) -> PairedTiming:
    """Warm both up, time a pilot pair in a plain loop, then the planned rounds (through
    ``runner``, by default the same loop); the measurement is pilot + planned rounds, or only
    the planned ones when ``plan.pilot_counts`` is off. With ``measures_itself`` each callable
    returns its own duration instead of being clocked here."""
    for _ in range(plan.warmup):
        reference()
        candidate()
    loop = timed_loop(clock, measures_itself)
    pilot = _pair(reference, candidate, plan.pilot_rounds, loop, clock, measures_itself)
    further = _pair(reference, candidate, plan.rounds_after(pilot), runner or loop, clock,
                    measures_itself)
    if not plan.pilot_counts:
        return further
    # the further rounds restart the ABBA order; over an even pilot both sides led equally
    return PairedTiming(pilot.reference_s + further.reference_s,
                        pilot.candidate_s + further.candidate_s, pilot_rounds=pilot.rounds)


def _pair(reference: Callable[[], object], candidate: Callable[[], object], rounds: int,
          runner: CandidateRunner, clock: Clock, measures_itself: bool) -> PairedTiming:
    hooks = ReferenceRounds(reference, clock, measures_itself)
    candidate_s = tuple(runner(candidate, rounds, hooks))
    if len(candidate_s) != len(hooks.times):
        raise RuntimeError(f"paired timing: {len(candidate_s)} candidate rounds but "
                           f"{len(hooks.times)} reference rounds; the runner must call "
                           "before() and after() around every round")
    return PairedTiming(tuple(hooks.times), candidate_s)
