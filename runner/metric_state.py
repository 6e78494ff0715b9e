"""A variant's metric as a state, not a colour: ok, suspicious, regressed or improved.

One red night on a shared machine is as often a neighbour's load as a change in the code, and
a drift inside the tolerance is never red at all. So, as PyTorch HUD does, a metric is
*regressed* only when confirmed — its last two nights both violated the baseline tolerance, or
a significant change point (``compbench.runner.change_points``) moved it the wrong way — and
*suspicious* in between: one violating night, or a change point found but not yet significant.
*improved* is a significant change point the right way. Only change points among the last
``RECENT`` runs set a state: an old change, re-baselined since, is history, not news.
"""

from __future__ import annotations

from dataclasses import dataclass

from compbench.runner.change_points import (
    ChangePoint,
    Series,
    history_series,
    machine_key,
    series_change_points,
)

CONSECUTIVE = 2   # violating nights that confirm a regression (PyTorch HUD's rule)
RECENT = 10       # runs a change point stays news for

OK, SUSPICIOUS, REGRESSED, IMPROVED = "ok", "suspicious", "regressed", "improved"


@dataclass(frozen=True)
class MetricState:
    state: str
    reason: str
    change_point: ChangePoint | None = None


def _worse(point: ChangePoint, higher_is_better: bool) -> bool:
    up = point.step.estimate > (1.0 if point.step.relative else 0.0)
    return up != higher_is_better


def metric_state(violations: list[bool], points: list[ChangePoint], runs: int,
                 higher_is_better: bool) -> MetricState:
    """``violations``: per run, oldest first, whether the gate found a regression beyond the
    tolerance; ``points``: the series' change points; ``runs``: the series' length."""
    trailing = 0
    for violated in reversed(violations):
        if not violated:
            break
        trailing += 1
    recent = [p for p in points if p.index >= runs - RECENT]
    latest = recent[-1] if recent else None
    if trailing >= CONSECUTIVE:
        return MetricState(REGRESSED, f"{trailing} consecutive runs beyond the tolerance", latest)
    if latest is not None and latest.significant:
        if _worse(latest, higher_is_better):
            return MetricState(REGRESSED, "significant change point", latest)
        if not trailing:
            return MetricState(IMPROVED, "significant change point", latest)
    if trailing:
        return MetricState(SUSPICIOUS, "last run beyond the tolerance (one run)", latest)
    if latest is not None and _worse(latest, higher_is_better):
        return MetricState(SUSPICIOUS, "change point not yet significant", latest)
    return MetricState(OK, "", latest)


SEVERITY = (REGRESSED, SUSPICIOUS, IMPROVED, OK)


def series_state(series: Series) -> MetricState:
    return metric_state(series.violations, series_change_points(series), len(series.values),
                        series.higher_is_better)


def describe(series: Series, found: MetricState) -> str:
    """``metric state: step [interval] from session N (commit, date), p = …``."""
    point = found.change_point
    text = f"{series.metric} {found.state}"
    if found.reason:
        text += f" ({found.reason})"
    if point is not None:
        text += (f": {point.step.describe()} from session {point.session_id} "
                 f"({(point.git_commit or '?')[:12]}, {point.date[:10]}), p = {point.p_value:.3f}")
    return text


def variant_states(history, variant_id: str) -> tuple[str, str]:
    """(the worst state of the variant's metrics on the machine of its latest run, what makes
    it so): what ``compbench history`` shows beside the trend."""
    runs = history.measurements(variant_id, 1)
    if not runs:
        return OK, "–"
    latest = machine_key(runs[-1]["hardware_class"], runs[-1]["machine"])
    states = [(series, series_state(series))
              for series in history_series(history, variant_id).get(latest, [])]
    if not states:
        return OK, "–"
    worst = min(SEVERITY.index(found.state) for _, found in states)
    shown = [describe(series, found) for series, found in states
             if SEVERITY.index(found.state) == worst and (found.state != OK or found.change_point)]
    return SEVERITY[worst], "; ".join(shown) or "–"
