"""Stored reference values per profile and the two-sided gate against them: one object for the
bench tests, the plugin and the CLI, over the file (``compbench.runner.baseline_store``), where each value
lives (``compbench.runner.baseline_scope``) and the tolerances (``compbench.runner.tolerances``).

As in NNCF's conformance tests, a result better than the baseline by more than the tolerance
fails too ("stale baseline"): otherwise an improvement is silently absorbed and a later
regression back to the old value would pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from compbench import hardware
from compbench.paired_statistics import RatioInterval
from compbench.runner import accuracy_floor, baseline_scope, baseline_store
from compbench.runner.accuracy_floor import FloorVerdict
from compbench.runner.baseline_scope import NEAREST, hardware_dependent, recipe_of, trained_here
from compbench.runner.baseline_store import DEFAULT_PROFILE, SHARED, UPDATE_HINT, baseline_path, empty
from compbench.runner.tolerances import (
    RUNNER_TOLERANCES,
    accuracy_metrics,
    cross_hardware_tolerances,
    default_tolerances,
    known_metrics,
)
from compbench.runner.verdicts import Verdict, interval_verdict, lowest_allowed, point_verdict
from compbench.tasks import metric as declared_metric

# the names other modules and tests import from here
__all__ = ["accuracy_metrics", "cross_hardware_tolerances", "DEFAULT_PROFILE",
           "default_tolerances", "INCONCLUSIVE", "known_metrics", "NEAREST", "NO_BASELINE", "PASS",
           "REGRESSION", "RUNNER_TOLERANCES", "STALE", "UPDATE_HINT", "Baselines", "Check", "Verdict",
           "baseline_path", "empty", "hardware_dependent", "recipe_of", "trained_here"]

PASS, REGRESSION, STALE, INCONCLUSIVE, NO_BASELINE = (
    Verdict.PASS, Verdict.REGRESSION, Verdict.STALE, Verdict.INCONCLUSIVE, Verdict.NO_BASELINE)


@dataclass(frozen=True)
class Check:
    """Outcome of one metric against its baseline; ``problem`` is None when within tolerance."""
    metric: str
    measured: float
    baseline: float | None
    tolerance: str
    problem: str | None
    basis: str = SHARED  # "shared", this machine's class, or "<class> (nearest)"
    # an interval check that could not decide: the reason (a warning, counted, never a pass)
    inconclusive: str | None = None
    # what the report cell says; left out, it follows from the fields above (a problem with a
    # baseline is a regression: a stale baseline is always said so by the check that found it)
    verdict: Verdict | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:
            object.__setattr__(self, "verdict", self._structural_verdict())

    def _structural_verdict(self) -> Verdict:
        if self.baseline is None:
            return Verdict.NO_BASELINE
        if self.problem:
            return Verdict.REGRESSION
        return Verdict.INCONCLUSIVE if self.inconclusive else Verdict.PASS

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.measured - self.baseline


def _tolerance_text(tol: dict) -> str:
    return f"±{tol['abs']}" if "abs" in tol else f"±{tol['rel']:.0%}"


class Baselines:
    def __init__(self, path: Path, data: dict, hardware_class: str | None = None,
                 cpu: str | None = None):
        self.path = path
        self.data = data
        self.hardware_class = hardware_class or hardware.current().hardware_class
        self.cpu = cpu or hardware.current().cpu
        # an emulated class (compbench.isa_emulation) records that class's values only
        self.emulated = bool(hardware_class is None and hardware.current().emulated_on)

    def scope(self, variant_id: str, metric: str) -> str:
        """The ``by_hardware`` key this machine's value of a per-hardware metric lives under."""
        return baseline_scope.value_key(variant_id, metric, self.hardware_class, self.cpu)

    @classmethod
    def load(cls, profile: str, path: Path | None = None) -> Baselines:
        path = path or baseline_path(profile)
        return cls(path, baseline_store.read(profile, path))

    # -- reading ---------------------------------------------------------------------------
    def floors(self) -> tuple[dict, Path]:
        """(data, file) whose floors apply: this file's own, else the default profile's."""
        default = self.path.with_name(f"{DEFAULT_PROFILE}.json")
        if accuracy_floor.FLOORS in self.data or self.path == default or not default.exists():
            return self.data, self.path
        return Baselines.load(DEFAULT_PROFILE, default).data, default

    def floor(self, variant_id: str, model: str, measured: dict[str, float],
              reference_id: str, reference: dict[str, float]) -> tuple[FloorVerdict | None, Path]:
        data, source = self.floors()
        return accuracy_floor.judge(data, variant_id, model, measured, reference_id,
                                    reference, self.hardware_class), source

    def tolerance(self, variant_id: str, metric: str, cross_hardware: bool = False) -> dict:
        entry = self.data["variants"].get(variant_id, {})
        if cross_hardware:
            sources = (self.data.get("cross_hardware_tolerances", {}), cross_hardware_tolerances())
        else:
            sources = (entry.get("tolerances", {}), self.data.get("tolerances", {}),
                       default_tolerances())
        for source in sources:
            if metric in source:
                return source[metric]
        return self.tolerance(variant_id, metric) if cross_hardware else {"abs": 0.0}

    def stored(self, variant_id: str, metric: str) -> tuple[dict | None, str, bool]:
        """(value record, basis, cross-hardware?) of the baseline this machine gates on."""
        return baseline_scope.stored(self.data, variant_id, metric, self.hardware_class, self.cpu)

    def recorded_on(self, record: dict) -> str | None:
        return baseline_scope.recording_cpu(self.data, record)

    def check(self, variant_id: str, metric: str, measured: float,
              higher_is_better: bool | None = None, two_sided: bool = True) -> Check:
        """Worse beyond tolerance = regression; better beyond = stale baseline (two-sided).

        ``higher_is_better`` defaults to the task's declaration for an accuracy metric (and to
        True for the runner's speed-up), so a lower-is-better task metric cannot be gated the
        wrong way round by a caller that forgot to say so."""
        if higher_is_better is None:
            declared = declared_metric(metric)
            higher_is_better = declared.higher_is_better if declared else True
        record, basis, cross = self.stored(variant_id, metric)
        tol = self.tolerance(variant_id, metric, cross)
        tol_text = _tolerance_text(tol) + (" cross-hardware" if cross else "")
        other_recipe = self.other_recipe(variant_id)
        if record is not None and other_recipe:
            return Check(metric, measured, float(record["value"]), tol_text, other_recipe, basis,
                         verdict=Verdict.STALE)
        if record is None:
            where = "" if basis == SHARED else f" for hardware class {basis}"
            return Check(metric, measured, None, tol_text,
                         f"{variant_id}: no baseline for {metric!r}{where} in {self.path}. "
                         f"Measured {measured:.6g}. Record it with `{UPDATE_HINT}`.", basis,
                         verdict=Verdict.NO_BASELINE)
        baseline = float(record["value"])
        verdict = point_verdict(measured, baseline, tol, higher_is_better, two_sided)
        delta = measured - baseline
        versus = f"baseline {baseline:.6g} [{basis}]"
        problem = None
        if verdict is Verdict.REGRESSION:
            problem = (f"REGRESSION {variant_id}: {metric} = {measured:.6g}, {versus} "
                       f"(Δ {delta:+.6g}, tolerance {tol_text}). If the change is intended, "
                       f"re-record with `{UPDATE_HINT}`.")
        elif verdict is Verdict.STALE:
            problem = (f"STALE BASELINE {variant_id}: {metric} = {measured:.6g} is better than "
                       f"{versus} (Δ {delta:+.6g}, tolerance {tol_text}). "
                       f"Record the improvement with `{UPDATE_HINT}`.")
        return Check(metric, measured, baseline, tol_text, problem, basis, verdict=verdict)

    def check_interval(self, variant_id: str, metric: str, interval: RatioInterval,
                       unstable: Callable[[], str | None] = lambda: None,
                       confirm: Callable[[], RatioInterval] | None = None) -> Check:
        """A higher-is-better ratio known only to within ``interval``, against its floor
        (baseline minus tolerance), by the one interval rule (``compbench.runner.verdicts``): a
        regression only when the whole interval lies below the floor, ``unstable()`` names
        no reason to distrust the machine and ``confirm()`` (if given) re-measures it below the
        floor too; inconclusive otherwise when it straddles the floor — reported and counted,
        neither a pass nor a failure."""
        point = self.check(variant_id, metric, interval.estimate, two_sided=False)
        if point.baseline is None or self.other_recipe(variant_id):
            return point  # no baseline to gate on: already a failure that says how to record one
        record, _, cross = self.stored(variant_id, metric)
        tol = self.tolerance(variant_id, metric, cross)
        baseline = float(record["value"])
        lowest = lowest_allowed(baseline, tol)
        verdict, reason = interval_verdict(interval, lowest, unstable, confirm)
        measured = f"{metric} {interval.describe()}"
        versus = f"floor {lowest:.4g} = baseline {baseline:.4g} [{point.basis}] − {point.tolerance}"
        if verdict is Verdict.REGRESSION:
            confirmed = f" ({reason})" if reason else ""
            problem = (f"REGRESSION {variant_id}: {measured} lies entirely below the {versus}"
                       f"{confirmed}. If the change is intended, re-record with `{UPDATE_HINT}`.")
            return replace(point, problem=problem, verdict=verdict)
        if verdict is Verdict.INCONCLUSIVE and reason:
            return replace(point, problem=None, verdict=verdict, inconclusive=(
                f"{variant_id}: {measured} lies below the {versus}, but {reason}: not "
                "gated. Run it again on a quiet machine."))
        if verdict is Verdict.INCONCLUSIVE:
            return replace(point, problem=None, verdict=verdict, inconclusive=(
                f"{variant_id}: {measured} straddles the {versus}: not gated. More rounds "
                "(--speed-budget) or a quieter machine would decide it."))
        return replace(point, problem=None, verdict=verdict)

    def other_recipe(self, variant_id: str) -> str | None:
        """The problem when the stored values were recorded for other recipe parameters."""
        stored = self.data["variants"].get(variant_id, {}).get("recipe")
        now = recipe_of(variant_id)
        if stored is None or now is None or stored == now:
            return None
        return (f"STALE BASELINE {variant_id}: its values were recorded for {stored}, the row "
                f"now runs {now}. Record the new recipe with `{UPDATE_HINT}`.")

    # -- writing ---------------------------------------------------------------------------
    def updated(self, measured: dict[str, dict[str, float]], provenance: dict) -> tuple[dict, list[str]]:
        """New file content with ``measured`` merged in, and human-readable change lines."""
        return baseline_scope.merged(self.data, measured, provenance, self.hardware_class,
                                     self.cpu, self.emulated)

    def lock_path(self) -> Path:
        return baseline_store.lock_path(self.path)

    def record(self, measured: dict[str, dict[str, float]], provenance: dict) -> list[str]:
        """Merge ``measured`` into the file on disk under its lock; returns the change lines.

        The file is re-read under the lock, so two concurrent updates both land."""
        return baseline_store.update(
            self.path, self.data.get("profile", self.path.stem),
            lambda fresh: baseline_scope.merged(fresh, measured, provenance, self.hardware_class,
                                                self.cpu, self.emulated))

    def write(self, data: dict) -> None:
        baseline_store.write(self.path, data)
