"""Accepting a confirmed change on purpose (``compbench accept``), instead of editing JSON.

When a change point in the history is intended — a faster engine release, a recipe that now
trades a little accuracy for size — the baseline should move to the level the nights since the
change measured, and the file should say who accepted what and why. The new value is the
median of this machine's runs from the change point on (the level the change point's step was
measured against, not one night's draw), written under the file's lock as a recording whose
provenance carries the reason, the change point's session, commit and date, and how many runs
the value rests on. Only this machine's series is read: the value lands where this machine's
class (and CPU model, where the metric is kept per CPU model) keeps it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from compbench import hardware
from compbench.errors import CompbenchError
from compbench.provenance import provenance
from compbench.runner.baselines import Baselines
from compbench.runner.change_points import ChangePoint, history_series, machine_key, series_change_points
from compbench.runner.history import History
from compbench.runner.metric_state import CONSECUTIVE


class AcceptError(CompbenchError):
    """Nothing confirmed to accept, or not enough runs since the change to set a level."""


@dataclass(frozen=True)
class Acceptance:
    variant: str
    metric: str
    machine: str
    value: float
    point: ChangePoint
    runs: int


def confirmed_level(history: History, variant_id: str, metric: str, machine: str) -> Acceptance:
    """The latest significant change point of this machine's series and the level after it."""
    by_machine = history_series(history, variant_id)
    series = next((s for s in by_machine.get(machine, []) if s.metric == metric), None)
    if series is None:
        known = sorted({s.metric for s in by_machine.get(machine, [])})
        raise AcceptError(f"{history.path} has no {metric!r} runs of {variant_id} on this machine "
                          f"({machine}); its metrics here: {', '.join(known) or 'none'}. "
                          "Accept on a machine of the class whose baseline moves")
    significant = [p for p in series_change_points(series) if p.significant]
    if not significant:
        raise AcceptError(f"{variant_id} {metric}: no confirmed change in the last "
                          f"{len(series.values)} runs on this machine ({history.path}); "
                          "`compbench history` shows each metric's state. If the value must "
                          "move anyway, re-record it with `pytest bench --update-baselines`")
    point = significant[-1]
    after = series.values[point.index:]
    if len(after) < CONSECUTIVE:
        raise AcceptError(f"{variant_id} {metric}: only {len(after)} run(s) since the change at "
                          f"session {point.session_id}; the level needs {CONSECUTIVE}: run "
                          "the gate again first")
    return Acceptance(variant_id, metric, machine, statistics.median(after), point, len(after))


def accept(baselines: Baselines, history: History, variant_id: str, metric: str, reason: str,
           command: str) -> tuple[Acceptance, list[str]]:
    """Move the baseline to the level after the change; returns it and the file's change lines."""
    if not reason.strip():
        raise AcceptError("--reason is required: say why this change is intended (it is kept "
                          "in the baseline file's provenance)")
    here = provenance(command)
    machine = machine_key(hardware.current().hardware_class, here["machine"])
    accepted = confirmed_level(history, variant_id, metric, machine)
    point = accepted.point
    record = here | {"accepted": {
        "reason": reason.strip(), "variant": variant_id, "metric": metric, "runs": accepted.runs,
        "change_point": {"session": point.session_id, "git_commit": point.git_commit,
                         "date": point.date, "p_value": point.p_value}}}
    return accepted, baselines.record({variant_id: {metric: accepted.value}}, record)
