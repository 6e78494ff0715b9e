"""The paired speed-up interval: exact where tables exist, calibrated where they don't."""

from __future__ import annotations

import numpy as np
import pytest

from compbench.paired_statistics import signed_rank_order_statistic, speedup_interval


@pytest.mark.parametrize(("n", "expected"), [(6, 1), (10, 9), (20, 53)])
def test_order_statistics_match_the_published_signed_rank_table(n, expected):
    # Hollander & Wolfe, table A.4: C_alpha for a two-sided 95 % interval
    assert signed_rank_order_statistic(n, 0.95) == expected


def test_no_jump_where_the_exact_distribution_hands_over_to_the_normal_one():
    def dropped_share(n: int) -> float:  # the share of Walsh averages cut off at each end
        return signed_rank_order_statistic(n, 0.95) / (n * (n + 1) / 2)

    assert dropped_share(50) == pytest.approx(dropped_share(51), abs=0.002)


def test_a_constant_ratio_is_pinned_down_exactly():
    reference = np.full(20, 0.010)
    interval = speedup_interval(reference, reference / 4.0)
    assert interval.estimate == pytest.approx(4.0)
    assert interval.low == pytest.approx(4.0) and interval.high == pytest.approx(4.0)


def test_common_disturbances_cancel_in_the_pair():
    rng = np.random.default_rng(0)
    load = rng.uniform(1.0, 3.0, size=60)  # a neighbour slows both sides of a round alike
    interval = speedup_interval(0.02 * load, 0.01 * load * rng.lognormal(0, 0.01, 60))
    assert interval.low < 2.0 < interval.high and interval.relative_width < 0.02


def test_the_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    trials = 400
    for _ in range(trials):
        noise = rng.standard_t(3, size=30) * 0.05  # heavy-tailed, like a shared machine
        interval = speedup_interval(np.exp(np.log(0.03) + noise), np.full(30, 0.01))
        covered += interval.low <= 3.0 <= interval.high
    assert 0.92 <= covered / trials <= 0.98


@pytest.mark.parametrize(("reference", "candidate", "message"), [
    ([1.0] * 5, [1.0] * 5, "at least 6"),
    ([1.0] * 8, [1.0] * 7, "one reference and one candidate"),
    ([1.0] * 7 + [0.0], [1.0] * 8, "positive"),
])
def test_unusable_rounds_are_refused(reference, candidate, message):
    with pytest.raises(ValueError, match=message):
        speedup_interval(reference, candidate)
