"""The paired speed-up measurement, driven by a scripted clock so every assertion is exact."""

from __future__ import annotations

import pytest

from compbench.paired_timing import paired_timing


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


def test_every_round_is_kept_and_the_speedup_is_their_paired_estimate():
    clock = ScriptedClock()
    costs = iter([0.004] * 8 + [0.010] * 2)   # two disturbed rounds on one side only

    def reference() -> None:
        clock.now += next(costs)

    timing = paired_timing(reference, clock.work("b", 0.002), min_rounds=10, max_rounds=10,
                           warmup=0, clock=clock)
    assert timing.rounds == 10 and len(timing.candidate_s) == 10
    assert timing.reference_min_s == pytest.approx(0.004)
    assert timing.speedup == pytest.approx(2.0)   # robust: the outlier rounds do not move it
    assert timing.interval.low <= 2.0 <= timing.interval.high


def test_order_alternates_abba_after_warmup():
    clock = ScriptedClock()
    paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.01), min_rounds=6, max_rounds=6,
                  warmup=1, clock=clock)
    assert clock.calls == ["ref", "cand",                       # warm-up
                           *["ref", "cand", "cand", "ref"] * 3]


class NoisyWork:
    """A callable whose cost alternates, so the pair's ratio is never pinned down exactly."""

    def __init__(self, clock: ScriptedClock, costs: tuple[float, ...]):
        self.clock, self.costs, self.calls = clock, costs, 0

    def __call__(self) -> None:
        self.clock.now += self.costs[self.calls % len(self.costs)]
        self.calls += 1


def test_rounds_continue_until_the_budget_is_spent_while_the_interval_is_wide():
    clock = ScriptedClock()
    noisy = NoisyWork(clock, (0.05, 0.2, 0.1, 0.08, 0.15))
    timing = paired_timing(noisy, clock.work("cand", 0.0625), min_rounds=6, max_rounds=100,
                           budget_s=2.0, target_width=0.01, warmup=0, clock=clock)
    assert 2.0 <= sum(timing.reference_s) + sum(timing.candidate_s) < 2.5  # the budget, spent
    timing = paired_timing(clock.work("ref", 1.0), clock.work("cand", 1.0), min_rounds=6,
                           max_rounds=100, budget_s=1.0, warmup=0, clock=clock)
    assert timing.rounds == 6          # min_rounds wins over the budget


def test_a_narrow_interval_stops_early():
    clock = ScriptedClock()
    timing = paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.005), min_rounds=10,
                           max_rounds=400, budget_s=100.0, warmup=0, clock=clock)
    assert timing.rounds == 10 and timing.interval.relative_width == pytest.approx(0.0, abs=1e-9)


def test_invalid_round_limits_are_refused():
    with pytest.raises(ValueError, match="min_rounds"):
        paired_timing(lambda: None, lambda: None, min_rounds=8, max_rounds=2)
    with pytest.raises(ValueError, match="min_rounds"):
        paired_timing(lambda: None, lambda: None, min_rounds=3, max_rounds=10)  # no interval
