"""The paired speed-up measurement, driven by a scripted clock so every assertion is exact."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compbench.paired_timing import PairedTiming, PairingPlan, ReferenceRounds, paired_timing, timed_loop


class ScriptedClock:
    """A clock that only moves when a timed callable runs, by that callable's cost."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[str] = []

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, cost: float):
        def run() -> None:
            self.calls.append(name)
            self.now += cost
        return run


class NoisyWork:
    """A callable whose cost cycles, so the pair's ratio is never pinned down exactly."""

    def __init__(self, clock: ScriptedClock, costs: tuple[float, ...]):
        self.clock, self.costs, self.calls = clock, costs, 0

    def __call__(self) -> None:
        self.clock.now += self.costs[self.calls % len(self.costs)]
        self.calls += 1


FIXED = PairingPlan(pilot_rounds=6, min_rounds=10, max_rounds=10, warmup=0, pilot_counts=True)


def test_every_round_is_kept_and_the_speedup_is_their_paired_estimate():
    clock = ScriptedClock()
    costs = iter([0.004] * 8 + [0.010] * 2)   # two disturbed rounds, one side

    def reference() -> None:
        clock.now += next(costs)

    timing = paired_timing(reference, clock.work("b", 0.002), FIXED, clock=clock)
    assert timing.rounds == 10 and len(timing.candidate_s) == 10   # 6 of the pilot + 4
    assert timing.reference_min_s == pytest.approx(0.004)
    assert timing.speedup == pytest.approx(2.0)   # robust: the outlier rounds do not move it
    assert timing.interval.low <= 2.0 <= timing.interval.high


def test_order_alternates_abba_after_warmup():
    clock = ScriptedClock()
    plan = PairingPlan(pilot_rounds=6, min_rounds=10, max_rounds=10, warmup=1, pilot_counts=True)
    paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.01), plan, clock=clock)
    assert clock.calls == ["ref", "cand",                       # warm-up
                           *["ref", "cand", "cand", "ref"] * 3,  # pilot
                           *["ref", "cand", "cand", "ref"] * 2]  # up to min_rounds


def test_a_noisy_pilot_asks_for_more_rounds_and_the_budget_caps_them():
    clock = ScriptedClock()
    noisy = NoisyWork(clock, (0.05, 0.2, 0.1, 0.08, 0.15))
    plan = PairingPlan(pilot_rounds=10, min_rounds=6, max_rounds=1000, budget_s=2.0,
                       target_width=0.01, warmup=0, pilot_counts=True)
    timing = paired_timing(noisy, clock.work("cand", 0.0625), plan, clock=clock)
    after_pilot = slice(timing.pilot_rounds, None)   # the budget buys the rounds after it
    spent = sum(timing.reference_s[after_pilot]) + sum(timing.candidate_s[after_pilot])
    assert timing.pilot_rounds == 10
    assert 2.0 - 0.35 <= spent <= 2.0   # as many rounds as the budget affords, no more


def test_a_quiet_pilot_needs_only_the_minimum():
    clock = ScriptedClock()
    plan = PairingPlan(pilot_rounds=10, min_rounds=12, max_rounds=400, budget_s=100.0, warmup=0)
    timing = paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.005), plan, clock=clock)
    assert timing.rounds == 12 and timing.interval.relative_width == pytest.approx(0.0, abs=1e-9)


def test_rounds_scale_with_the_square_of_the_pilot_width():
    pilot = PairedTiming((1.0, 1.2) * 10, (1.0,) * 20)
    width = pilot.interval.relative_width
    plan = PairingPlan(min_rounds=6, max_rounds=10_000, budget_s=1e9, target_width=width / 3,
                       pilot_counts=True)
    assert plan.rounds_after(pilot) == pytest.approx(20 * 9 - 20, abs=1)   # the pilot has 20
    assert replace(plan, pilot_counts=False).rounds_after(pilot) == pytest.approx(20 * 9, abs=1)


def test_min_rounds_win_over_the_budget():
    pilot = PairedTiming((1.0, 1.2) * 5, (1.0,) * 10)
    assert PairingPlan(min_rounds=15, budget_s=0.1, pilot_counts=True).rounds_after(pilot) == 5
    assert PairingPlan(min_rounds=15, budget_s=0.1, pilot_counts=False).rounds_after(pilot) == 15


def counting_loop(asked: list[int]):
    """The default loop, recording how many rounds it was asked for (as pytest-benchmark is)."""
    loop = timed_loop()

    def run(candidate, rounds, hooks: ReferenceRounds):
        asked.append(rounds)
        return loop(candidate, rounds, hooks)
    return run


def test_the_pilot_counts_so_a_pair_it_brought_within_width_adds_only_up_to_min_rounds():
    clock = ScriptedClock()
    pilot_costs = iter([0.011] * 10)   # the pilot's rounds differ from the rest's

    def reference() -> None:
        clock.now += next(pilot_costs, 0.01)

    asked: list[int] = []
    plan = PairingPlan(pilot_rounds=10, min_rounds=15, max_rounds=400, budget_s=100.0, warmup=0,
                       pilot_counts=True)
    timing = paired_timing(reference, clock.work("cand", 0.005), plan,
                           runner=counting_loop(asked), clock=clock)
    assert asked == [5]                                   # 15 − the pilot's 10
    assert timing.rounds == 15 and timing.pilot_rounds == 10
    assert timing.reference_s == pytest.approx([0.011] * 10 + [0.01] * 5)   # kept, in order


def test_without_the_pilot_counting_the_plan_is_the_older_one():
    clock = ScriptedClock()
    asked: list[int] = []
    plan = PairingPlan(pilot_rounds=10, min_rounds=15, max_rounds=400, budget_s=100.0, warmup=0,
                       pilot_counts=False)
    timing = paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.005), plan,
                           runner=counting_loop(asked), clock=clock)
    assert asked == [15] and timing.rounds == 15 and timing.pilot_rounds == 0


def test_max_rounds_caps_pilot_and_further_rounds_together():
    clock = ScriptedClock()
    noisy = NoisyWork(clock, (0.05, 0.2, 0.1, 0.08, 0.15))
    plan = PairingPlan(pilot_rounds=10, min_rounds=15, max_rounds=30, budget_s=1e9,
                       target_width=0.01, warmup=0, pilot_counts=True)
    assert paired_timing(noisy, clock.work("cand", 0.0625), plan, clock=clock).rounds == 30


def test_a_pilot_that_already_reached_min_rounds_still_gives_the_runner_one_round():
    clock = ScriptedClock()
    asked: list[int] = []
    plan = PairingPlan(pilot_rounds=10, min_rounds=6, max_rounds=10, budget_s=100.0, warmup=0,
                       pilot_counts=True)
    timing = paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.005), plan,
                           runner=counting_loop(asked), clock=clock)
    assert asked == [1] and timing.rounds == 11


def test_a_runner_that_skips_the_hooks_is_refused():
    def careless(candidate, rounds, hooks: ReferenceRounds):
        return [candidate() or 0.01 for _ in range(rounds)]   # never times the reference

    with pytest.raises(RuntimeError, match="before\\(\\) and after\\(\\)"):
        paired_timing(lambda: None, lambda: None, PairingPlan(warmup=0), runner=careless)


def test_invalid_round_limits_are_refused():
    with pytest.raises(ValueError, match="min_rounds"):
        PairingPlan(min_rounds=8, max_rounds=2)
    with pytest.raises(ValueError, match="pilot_rounds"):
        PairingPlan(pilot_rounds=3)   # no interval from 3 rounds
