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


def test_speedup_is_the_ratio_of_the_minimum_rounds():
    clock = ScriptedClock()
    costs = iter([0.05] * 2 + [0.010, 0.004] * 20)   # the first rounds are slow, then steady

    def reference() -> None:
        clock.now += next(costs)

    timing = paired_timing(reference, clock.work("b", 0.002), min_rounds=10, max_rounds=10,
                           warmup=0, clock=clock)
    assert timing.reference_min_s == pytest.approx(0.004)
    assert timing.candidate_min_s == pytest.approx(0.002)
    assert timing.speedup == pytest.approx(2.0)
    assert timing.rounds == 10


def test_order_alternates_abba_after_warmup():
    clock = ScriptedClock()
    paired_timing(clock.work("ref", 0.01), clock.work("cand", 0.01), min_rounds=3, max_rounds=3,
                  warmup=1, clock=clock)
    assert clock.calls == ["ref", "cand",                       # warm-up
                           "ref", "cand", "cand", "ref", "ref", "cand"]


def test_rounds_continue_until_the_budget_is_spent():
    clock = ScriptedClock()
    timing = paired_timing(clock.work("ref", 0.125), clock.work("cand", 0.125), min_rounds=2,
                           max_rounds=100, budget_s=1.0, warmup=0, clock=clock)
    assert timing.rounds == 4          # 0.25 s per round: the 4th spends the budget
    timing = paired_timing(clock.work("ref", 1.0), clock.work("cand", 1.0), min_rounds=4,
                           max_rounds=100, budget_s=1.0, warmup=0, clock=clock)
    assert timing.rounds == 4          # min_rounds wins over the budget


def test_invalid_round_limits_are_refused():
    with pytest.raises(ValueError, match="min_rounds"):
        paired_timing(lambda: None, lambda: None, min_rounds=5, max_rounds=2)
