"""Change points over a metric's whole history: E-divisive means with a permutation test.

A gate compares one night with one stored value; a drift of a few percent a night inside the
tolerance passes every gate until the baseline is far behind. E-divisive means (Matteson &
James, "A Nonparametric Approach for Multiple Change Point Analysis of Multivariate Data",
JASA 2014; the method MongoDB's ``signal-processing-algorithms`` and Apache Otava use) looks at
the whole series instead: it splits it where the energy distance between the two sides,
weighted by their sizes, is largest, and keeps the split only if fewer random permutations of
the points reach that distance than the significance level allows. Then it repeats inside the
parts. It assumes nothing about the noise's shape (only that points without a change are
exchangeable), so shared-machine outliers raise no alarm by their size alone.

Why a small implementation of our own: neither maintained package installs into this project's
tested environment (``signal-processing-algorithms`` requires numpy < 2 and builds gevent from
source; ``apache-otava`` pins numpy 2.2 exactly and brings a BigQuery client). The version here
follows the paper with ``alpha = 1``, the second segment always running to the end of the part
being split (as signal-processing-algorithms does), at least ``MIN_SIZE`` points a side, and a
fixed random seed, so the same history always gives the same answer.

Relative metrics (speed-up, latencies, size) are analysed as logarithms: a step is a ratio, the
same whether a variant takes 1 ms or 100 ms. Accuracies are analysed as they are: a step is a
difference in points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIZE = 2            # points each side of a change: one night alone is the tolerance rule's
PERMUTATIONS = 499      # p-values in steps of 1/500
CHUNK_CELLS = 4_000_000  # distance cells per batch of permutations: bounded memory
SIGNIFICANT = 0.01      # a change point is confirmed at this p-value (docs/change-points.md)
SUGGESTIVE = 0.05       # found, not confirmed: the metric is "suspicious"
SEED = 20140101         # fixed: the same history, the same change points
BOOTSTRAP = 1000        # resamples of the step's interval


@dataclass(frozen=True)
class Split:
    """A change point in a plain series: ``index`` is the first point after the change."""

    index: int
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value <= SIGNIFICANT


def _split_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(splits, Q̂ per split) of each row of ``x`` (rows: the series and its permutations).

    Q̂(τ) = m k / (m + k) · (2/(m k) Σ|xi − yj| − Σ|xi − xi'| / (m (m−1)) − Σ|yj − yj'| / (k (k−1)))
    for the m points before τ and the k from τ on, from one 2-D prefix sum of the distances.
    """
    n = x.shape[1]
    distances = np.abs(x[:, :, None] - x[:, None, :])
    prefix = np.zeros((x.shape[0], n + 1, n + 1))
    prefix[:, 1:, 1:] = distances.cumsum(1).cumsum(2)
    taus = np.arange(MIN_SIZE, n - MIN_SIZE + 1)
    left = prefix[:, taus, taus]
    cross = prefix[:, taus, n] - left
    right = prefix[:, n, n][:, None] - 2 * prefix[:, taus, n] + left
    m, k = taus.astype(float), (n - taus).astype(float)
    energy = 2 * cross / (m * k) - left / (m * (m - 1)) - right / (k * (k - 1))
    return taus, m * k / n * energy


def _best_splits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best split of each row and its Q̂ (−inf for a part too short to split)."""
    if x.shape[1] < 2 * MIN_SIZE:
        return np.zeros(x.shape[0], dtype=int), np.full(x.shape[0], -np.inf)
    taus, q = _split_statistics(x)
    best = q.argmax(axis=1)
    return taus[best], q[np.arange(x.shape[0]), best]


def e_divisive(values: list[float] | np.ndarray, stop_at: float = SUGGESTIVE,
               permutations: int = PERMUTATIONS, seed: int = SEED) -> list[Split]:
    """Every change point whose permutation p-value is at most ``stop_at``, in series order.

    The strongest split is tested first; its p-value is the share of permutations (each part
    shuffled on its own, as the paper does) whose strongest split over all parts reaches it.
    """
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    bounds = [0, len(x)]
    found: list[Split] = []
    while True:
        parts = list(zip(bounds[:-1], bounds[1:], strict=True))
        best = [_best_splits(x[None, a:b]) for a, b in parts]
        q = np.array([stat[0] for _, stat in best])
        if not np.isfinite(q).any() or q.max() <= 0:
            return sorted(found, key=lambda s: s.index)
        chosen = int(q.argmax())
        null_best = np.full(permutations, -np.inf)
        for a, b in parts:
            chunk = max(1, CHUNK_CELLS // (b - a) ** 2)
            for start in range(0, permutations, chunk):
                rows = min(chunk, permutations - start)
                shuffled = rng.permuted(np.broadcast_to(x[a:b], (rows, b - a)), axis=1)
                null_best[start:start + rows] = np.maximum(null_best[start:start + rows],
                                                           _best_splits(shuffled)[1])
        reached = (null_best >= q[chosen] * (1 - 1e-12)).sum()
        p_value = float((reached + 1) / (permutations + 1))
        if p_value > stop_at:
            return sorted(found, key=lambda s: s.index)
        index = parts[chosen][0] + int(best[chosen][0][0])
        found.append(Split(index, p_value))
        bounds = sorted(bounds + [index])


@dataclass(frozen=True)
class Step:
    """The size of a change: after / before (relative metrics) or after − before, with a 95 %
    bootstrap interval of the segments' medians."""

    estimate: float
    low: float
    high: float
    relative: bool

    def describe(self) -> str:
        if self.relative:
            return f"{self.estimate - 1:+.1%} [{self.low - 1:+.1%}, {self.high - 1:+.1%}]"
        return f"{self.estimate:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def step_size(before: np.ndarray, after: np.ndarray, relative: bool, seed: int = SEED) -> Step:
    """Medians, not means: one loaded night must not move the step's size."""
    rng = np.random.default_rng(seed)
    a = rng.choice(before, (BOOTSTRAP, len(before))).astype(float)
    b = rng.choice(after, (BOOTSTRAP, len(after))).astype(float)
    if relative:
        point = float(np.median(after) / np.median(before))
        samples = np.median(b, axis=1) / np.median(a, axis=1)
    else:
        point = float(np.median(after) - np.median(before))
        samples = np.median(b, axis=1) - np.median(a, axis=1)
    low, high = np.quantile(samples, [0.025, 0.975])
    return Step(point, float(low), float(high), relative)


@dataclass(frozen=True)
class ChangePoint:
    """A change in one metric's series: where (the first session after it), how large, how sure."""

    index: int
    session_id: int
    date: str
    git_commit: str | None
    step: Step
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value <= SIGNIFICANT


def change_points(values: list[float], sessions: list[tuple[int, str, str | None]],
                  relative: bool) -> list[ChangePoint]:
    """The change points of one series (oldest first) with ``sessions`` (id, date, commit) per
    point; relative metrics must be positive."""
    x = np.asarray(values, dtype=float)
    if relative and (x <= 0).any():
        raise ValueError("a relative metric's series must be positive")
    splits = e_divisive(np.log(x) if relative else x)
    bounds = [0, *(s.index for s in splits), len(x)]
    found = []
    for i, split in enumerate(splits):
        before, after = x[bounds[i]:split.index], x[split.index:bounds[i + 2]]
        session_id, date, commit = sessions[split.index]
        found.append(ChangePoint(split.index, session_id, date, commit,
                                 step_size(before, after, relative), split.p_value))
    return found


# The runner's own values: (higher is better, analysed as a ratio). Accuracy metrics come from
# their task's declaration and are analysed as differences.
RUNNER_METRICS = {"speedup": (True, True), "p50_ms": (False, True), "p90_ms": (False, True),
                  "p99_ms": (False, True), "size_bytes": (False, True)}
WINDOW = 60   # runs analysed per series: enough nights for a drift, bounded cost


@dataclass(frozen=True)
class Series:
    """One metric of one variant on one kind of machine (hardware class and CPU model: a speed
    measured on another CPU is another series, not a change)."""

    variant: str
    metric: str
    machine: str
    higher_is_better: bool
    relative: bool
    values: list[float]
    sessions: list[tuple[int, str, str | None]]   # (session id, date, commit) per value
    violations: list[bool]                        # the gate's verdict was "regression"


def machine_key(hardware_class: str | None, machine: dict) -> str:
    cpu = " ".join(str(machine.get(k, "")) for k in ("vendor", "family", "model")).strip()
    return f"{hardware_class or '?'} ({cpu or 'unknown CPU'})"


def metric_direction(name: str) -> tuple[bool, bool] | None:
    """(higher is better, relative) of a stored value, or None for one no gate reads."""
    if name in RUNNER_METRICS:
        return RUNNER_METRICS[name]
    from compbench.tasks import metric

    declared = metric(name)
    return None if declared is None else (declared.higher_is_better, False)


def history_series(history, variant_id: str, last: int = WINDOW) -> dict[str, list[Series]]:
    """The variant's series per machine key, each list in a stable metric order."""
    grouped: dict[tuple[str, str], Series] = {}
    for run in history.measurements(variant_id, last):
        key = machine_key(run["hardware_class"], run["machine"])
        for name, value in run["values"].items():
            direction = metric_direction(name)
            if value is None or direction is None:
                continue
            series = grouped.setdefault((key, name), Series(variant_id, name, key, *direction,
                                                            [], [], []))
            series.values.append(float(value))
            series.sessions.append((run["session_id"], run["date"], run["git_commit"]))
            series.violations.append(run["verdicts"].get(name) == "regression")
    found: dict[str, list[Series]] = {}
    for (key, _), series in grouped.items():
        found.setdefault(key, []).append(series)
    return found


def series_change_points(series: Series) -> list[ChangePoint]:
    if series.relative and any(v <= 0 for v in series.values):
        return []   # a zero speed-up or size is a broken run, not a level to split
    return change_points(series.values, series.sessions, series.relative)
