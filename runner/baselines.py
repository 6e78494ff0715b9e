"""Stored reference values per profile, the two-sided gate against them, and safe updates.

As in NNCF's conformance tests, a result better than the baseline by more than the tolerance
fails too ("stale baseline"): otherwise an improvement is silently absorbed and a later
regression back to the old value would pass unnoticed.

Values that depend on the CPU's int8 instruction set (all speed-ups; the accuracy of variants
whose row says ``cpu_dependent_accuracy``) are kept per hardware class
(``compbench.hardware``); the rest (fp32 accuracy, sizes) are shared by every machine. A run on
a class without its own values is gated on the shared ones and compared with the nearest class
under the wider ``cross_hardware_tolerances``, and every check says which basis it used.

Accuracy metrics, their direction and their default tolerances are facts of each task and are
declared there (``tasks/<name>.py``); this module owns only the runner's own measurements (sizes,
speed-up). The defaults fill a new profile and back any metric a file does not list; a file's
own ``tolerances`` always win, so recorded files gate exactly as they were recorded.

Every value carries the id of the recording (commit, date, machine, packages, command) that
measured it, so updating one variant restamps only that variant. Updates are explicit
(``--update-baselines``), happen under a lock beside the file, re-read the file under that lock,
and replace it atomically, keeping its permissions and writing through a symlink.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from compbench import hardware
from compbench.cache import atomic_write_text, file_lock
from compbench.errors import BaselineError
from compbench.paired_statistics import RatioInterval
from compbench.settings import REPO_ROOT
from runner import accuracy_floor
from runner.accuracy_floor import FloorVerdict
from tasks import all_tasks
from tasks import metric as declared_metric

BASELINE_DIR = REPO_ROOT / "baselines"
DEFAULT_PROFILE = "default"
UPDATE_HINT = "pytest bench --update-baselines"
SCHEMA = 2
SHARED = "shared"
PASS, REGRESSION, STALE, INCONCLUSIVE, NO_BASELINE = (
    "pass", "regression", "stale", "inconclusive", "no baseline")
RUNNER_TOLERANCES: dict[str, dict] = {
    "size_bytes": {"rel": 0.02, "why": "serialisation metadata varies by a few hundred bytes"},
    "size_gzip_bytes": {"rel": 0.02, "why": "as size_bytes"},
    "speedup": {"rel": 0.15, "why": "paired interval vs the cold recording, wider than unchanged "
                                    "sessions move a 1 ms+ forward's speed-up (docs/speed-gate-study)"},
    # the compression census (runner/census.py, docs/compression-census.md)
    **{count: {"abs": 0, "why": "an operator count of the executed graph: one operator leaving "
                                "int8 is the silent bug the census is for"}
       for count in ("int8_convs", "float_convs", "int8_matmuls", "float_matmuls")},
    "zero_fraction": {"abs": 0.002, "why": "fine-tuned sparsity sits at its target; rebuilds move "
                                           "it by ties at the magnitude threshold only"},
    "conv_channels": {"abs": 0, "why": "structured pruning's kept channels are set by its ratio"},
    "max_distinct_per_kernel": {"abs": 0, "why": "clustering leaves at most its cluster count; "
                                               "an fp16 IR may merge, never add, values"},
}
CENSUS_METRICS = ("int8_convs", "float_convs", "int8_matmuls", "float_matmuls", "zero_fraction",
                  "conv_channels", "max_distinct_per_kernel")
RUNNER_CROSS_HARDWARE_TOLERANCES: dict[str, dict] = {
    "speedup": {"rel": 0.8, "why": "int8 speed-ups on AVX2-only measured down to 0.28x of the "
                                   "VNNI values (int8-qat/torch 1.62x vs 5.86x)"},
}
# Derived from the task declarations, never listed here (one task may share another's metric
# only by declaring it identically, so a name is enough to find its facts).
_DECLARED = {m.name: m for task in all_tasks().values() for m in task.metrics}
ACCURACY_METRICS = tuple(_DECLARED)
DEFAULT_TOLERANCES: dict[str, dict] = {
    **{name: m.tolerance.as_entry() for name, m in _DECLARED.items()}, **RUNNER_TOLERANCES}
CROSS_HARDWARE_TOLERANCES: dict[str, dict] = {
    **{name: m.cross_hardware.as_entry() for name, m in _DECLARED.items()},
    **RUNNER_CROSS_HARDWARE_TOLERANCES}
KNOWN_METRICS = tuple(DEFAULT_TOLERANCES)
NEAREST = " (nearest)"   # a check's basis: another class's value, at the cross-class tolerance
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def baseline_path(profile: str, directory: Path = BASELINE_DIR) -> Path:
    if not PROFILE_NAME.match(profile) or ".." in profile:
        raise BaselineError(f"--profile {profile!r} is not a profile name: use letters, digits, "
                            f"'-', '_' or '.', e.g. --profile full (the file is "
                            f"{directory}/<profile>.json)")
    return directory / f"{profile}.json"


def hardware_dependent(variant_id: str, metric: str) -> bool:
    """Whether ``metric`` of this variant is stored per hardware class."""
    if metric == "speedup":
        return True
    if metric in CENSUS_METRICS:
        # the graph an engine executes is its own choice per instruction set (int8 may run
        # otherwise without VNNI, layout passes and fusions follow the vector width): a class
        # is gated on its own census only
        return True
    if metric not in ACCURACY_METRICS:
        return False
    from runner.matrix import VARIANTS

    variant = VARIANTS.get(variant_id)
    return bool(variant and variant.cpu_dependent_accuracy)


def recipe_of(variant_id: str) -> str | None:
    """The row's recipe with its parameters, kept with the variant's values: a value recorded
    for other parameters measured another model, whatever the variant's id says. A chain's root
    also names the digest of the weights this repository trains (``repo:`` refs): retrained
    weights are another model too, on every machine, not only on the one that re-recorded."""
    from runner.matrix import VARIANTS, upstream_of

    variant = VARIANTS.get(variant_id)
    if variant is None:
        return None
    step = f"{variant.recipe}({', '.join(f'{k}={v!r}' for k, v in variant.params)})"
    upstream = upstream_of(variant)
    if upstream:
        return f"{recipe_of(upstream.id)} -> {step}"
    return step + "".join(f" on {ref}@{digest}" for ref, digest in trained_here(variant.model.weights))


@functools.cache
def trained_here(weights: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(ref, short sha256) of the model's in-repo weights (as the artifact cache digests them)."""
    from compbench.assets import REPO_PREFIX, Assets

    refs = [ref for ref in weights if ref.startswith(REPO_PREFIX)]
    if not refs:
        return ()
    assets = Assets()
    return tuple((ref, assets.weights_digest(ref)[:12]) for ref in refs)


def cpu_model_dependent(variant_id: str, metric: str) -> bool:
    """Whether ``metric`` of this variant is stored per CPU model (within its class).

    Accuracy: the rows measured to differ between CPU models of one class. Speed-up: every row
    whose kernels depend on the instruction set (``cpu_dependent_accuracy``: the int8 rows and
    the TF fine-tunes), because one class spans very different int8 units: int8-ptq/torch ran
    3.8x faster than fp32 on an Intel Xeon (family 6 model 207) and 4.8x on an AMD EPYC
    (family 25 model 17), both AVX-512 VNNI; a class-wide value recorded on the faster CPU turns
    the slower one red at a 15 % tolerance.
    """
    from runner.matrix import VARIANTS

    variant = VARIANTS.get(variant_id)
    if variant is None:
        return False
    if metric == "speedup":
        return variant.cpu_dependent_accuracy
    return variant.cpu_model_dependent_accuracy and metric in ACCURACY_METRICS


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

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.measured - self.baseline

    @property
    def verdict(self) -> str:
        """One word for a report cell: pass, regression, stale, inconclusive, no baseline."""
        if self.baseline is None:
            return NO_BASELINE
        if self.problem:
            return STALE if self.problem.startswith("STALE") else REGRESSION
        return INCONCLUSIVE if self.inconclusive else PASS


def _tolerance_text(tol: dict) -> str:
    return f"±{tol['abs']}" if "abs" in tol else f"±{tol['rel']:.0%}"


def empty(profile: str) -> dict:
    return {"schema": SCHEMA, "profile": profile, "tolerances": DEFAULT_TOLERANCES,
            "cross_hardware_tolerances": CROSS_HARDWARE_TOLERANCES, "recordings": {},
            "variants": {}}


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
        if cpu_model_dependent(variant_id, metric):
            return f"{self.hardware_class}/{self.cpu}"
        return self.hardware_class

    @classmethod
    def load(cls, profile: str, path: Path | None = None) -> Baselines:
        path = path or baseline_path(profile)
        if path.is_dir():
            raise BaselineError(f"baseline path {path} is a folder, not a file: pass the folder "
                                f"as --baselines-dir and the file name as --profile")
        if not path.exists():
            if path.is_symlink():
                raise BaselineError(f"baseline file {path} is a symlink to a missing file "
                                    f"({path.readlink()}): fix or remove the link")
            return cls(path, empty(profile))
        def unique_keys(pairs: list[tuple[str, object]]) -> dict:
            # json keeps the last of two equal keys: one recorded value would silently vanish
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise BaselineError(
                        f"baseline file {path} holds the key {key!r} twice in one object (JSON "
                        f"keeps only the last copy, so the other would be silently lost): delete "
                        f"the copy that is wrong by hand, or restore the file from git "
                        f"(git checkout -- {path}) and re-record with `{UPDATE_HINT}`.")
                seen.add(key)
            return dict(pairs)

        try:
            data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys)
        except OSError as exc:
            raise BaselineError(f"cannot read baseline file {path} ({exc.strerror}): check its "
                                "permissions") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BaselineError(f"baseline file {path} is not valid JSON ({exc}). Fix it by hand "
                                f"or restore it from git (git checkout -- {path}), then "
                                f"re-record with `{UPDATE_HINT}`.") from None
        validate(path, data)
        return cls(path, data)

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
            sources = (self.data.get("cross_hardware_tolerances", {}), CROSS_HARDWARE_TOLERANCES)
        else:
            sources = (entry.get("tolerances", {}), self.data.get("tolerances", {}),
                       DEFAULT_TOLERANCES)
        for source in sources:
            if metric in source:
                return source[metric]
        return self.tolerance(variant_id, metric) if cross_hardware else {"abs": 0.0}

    def stored(self, variant_id: str, metric: str) -> tuple[dict | None, str, bool]:
        """(value record, basis, cross-hardware?) of the baseline this machine gates on."""
        entry = self.data["variants"].get(variant_id, {})
        if not hardware_dependent(variant_id, metric):
            return entry.get(SHARED, {}).get(metric), SHARED, False
        classes = {cls: values[metric] for cls, values in entry.get("by_hardware", {}).items()
                   if metric in values}
        own = self.scope(variant_id, metric)
        if own in classes:
            return classes[own], own, False
        coarse = classes.get(self.hardware_class)
        if own != self.hardware_class and coarse and self.recorded_on(coarse) == self.cpu:
            return coarse, self.hardware_class, False   # a class-wide value this CPU recorded
        nearest = hardware.nearest(own, sorted(classes))
        if nearest is None:
            return None, own, False
        return classes[nearest], f"{nearest}{NEAREST}", True

    def recorded_on(self, record: dict) -> str | None:
        return _recording_cpu(self.data, record)

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
            return Check(metric, measured, float(record["value"]), tol_text, other_recipe, basis)
        if record is None:
            where = "" if basis == SHARED else f" for hardware class {basis}"
            return Check(metric, measured, None, tol_text,
                         f"{variant_id}: no baseline for {metric!r}{where} in {self.path}. "
                         f"Measured {measured:.6g}. Record it with `{UPDATE_HINT}`.", basis)
        baseline = float(record["value"])
        allowed = tol["abs"] if "abs" in tol else tol["rel"] * abs(baseline)
        delta = measured - baseline
        worse = -delta if higher_is_better else delta
        versus = f"baseline {baseline:.6g} [{basis}]"
        problem = None
        if worse > allowed:
            problem = (f"REGRESSION {variant_id}: {metric} = {measured:.6g}, {versus} "
                       f"(Δ {delta:+.6g}, tolerance {tol_text}). If the change is intended, "
                       f"re-record with `{UPDATE_HINT}`.")
        elif two_sided and -worse > allowed:
            problem = (f"STALE BASELINE {variant_id}: {metric} = {measured:.6g} is better than "
                       f"{versus} (Δ {delta:+.6g}, tolerance {tol_text}). "
                       f"Record the improvement with `{UPDATE_HINT}`.")
        return Check(metric, measured, baseline, tol_text, problem, basis)

    def check_interval(self, variant_id: str, metric: str, interval: RatioInterval,
                       unstable: Callable[[], str | None] = lambda: None) -> Check:
        """A higher-is-better ratio known only to within ``interval``, against its floor
        (baseline minus tolerance), with three outcomes — the asv rule, made paired:

        - regression: the whole interval lies below the floor (significant *and* large),
          unless ``unstable()`` (asked only then) names a reason the machine cannot be trusted
          right now — then it is inconclusive with that reason;
        - pass: the whole interval lies at or above it;
        - inconclusive: the interval straddles the floor — too few or too noisy rounds to
          tell; reported and counted, neither a pass nor a failure.
        """
        point = self.check(variant_id, metric, interval.estimate, two_sided=False)
        if point.baseline is None or self.other_recipe(variant_id):
            return point  # no baseline to gate on: already a failure that says how to record one
        record, _, cross = self.stored(variant_id, metric)
        tol = self.tolerance(variant_id, metric, cross)
        baseline = float(record["value"])
        floor = baseline - (tol["abs"] if "abs" in tol else tol["rel"] * abs(baseline))
        measured = f"{metric} {interval.describe()}"
        versus = f"floor {floor:.4g} = baseline {baseline:.4g} [{point.basis}] − {point.tolerance}"
        if interval.high < floor:
            reason = unstable()
            if reason:
                return replace(point, problem=None, inconclusive=(
                    f"{variant_id}: {measured} lies below the {versus}, but {reason}: not "
                    "gated. Run it again on a quiet machine."))
            problem = (f"REGRESSION {variant_id}: {measured} lies entirely below the {versus}. "
                       f"If the change is intended, re-record with `{UPDATE_HINT}`.")
            return replace(point, problem=problem)
        if interval.low < floor:
            return replace(point, problem=None, inconclusive=(
                f"{variant_id}: {measured} straddles the {versus}: not gated. More rounds "
                "(--speed-budget) or a quieter machine would decide it."))
        return replace(point, problem=None)

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
        data = json.loads(json.dumps(self.data))
        record_id = "r" + hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()[:10]
        changes = []
        for variant_id, values in sorted(measured.items()):
            left = data.get("emulation", {}).get(self.hardware_class, {}).get(variant_id)
            if self.emulated and left:
                changes.append(f"{variant_id}: not recorded under emulation, it needs a real "
                               f"{self.hardware_class} machine ({left})")
                continue
            entry = data["variants"].setdefault(variant_id, {})
            recipe = recipe_of(variant_id)
            if recipe and entry.get("recipe", recipe) != recipe:
                # every machine's values measured the old recipe: none of them gates the new one
                changes.append(f"{variant_id}: recipe {entry['recipe']} → {recipe}; the values "
                               "recorded for the old recipe (every hardware class) are dropped")
                entry.pop(SHARED, None)
                entry.pop("by_hardware", None)
            if recipe:
                entry["recipe"] = recipe
            for metric, value in sorted(values.items()):
                per_class = hardware_dependent(variant_id, metric)
                if self.emulated and not per_class:
                    continue   # shared values belong to native recordings
                if self.emulated and cpu_model_dependent(variant_id, metric):
                    # kept per CPU model because CPU models of one class differ: a cap on this
                    # CPU emulates the class's instructions, not another CPU model's numerics
                    changes.append(f"{variant_id} {metric}: not recorded under emulation, it "
                                   "is kept per CPU model (real machines only)")
                    continue
                key = self.scope(variant_id, metric)
                scope = (entry.setdefault("by_hardware", {}).setdefault(key, {})
                         if per_class else entry.setdefault(SHARED, {}))
                # a metric that moved between shared, per-class and per-CPU-model storage
                # leaves the coarser place
                (entry.get(SHARED, {}) if per_class else {}).pop(metric, None)
                if key != self.hardware_class:   # every class's coarse value, not only ours
                    for coarse in [k for k in entry.get("by_hardware", {}) if "/" not in k]:
                        _narrow_to_its_cpu(data, entry, coarse, metric)
                old = scope.get(metric, {}).get("value")
                where = f" [{key}]" if per_class else ""
                if self.emulated and _recorded_natively(data, scope.get(metric)):
                    changes.append(f"{variant_id} {metric}{where}: kept {old:.6g} from a real "
                                   f"machine of the class (emulated {value:.6g})")
                    continue
                if old != value:
                    changes.append(f"{variant_id} {metric}{where}: "
                                   f"{'(new)' if old is None else f'{old:.6g}'} → {value:.6g}")
                scope[metric] = {"value": value, "recorded": record_id}
        data.setdefault("recordings", {})[record_id] = provenance
        used = {record["recorded"] for entry in data["variants"].values()
                for scope in [entry.get(SHARED, {}), *entry.get("by_hardware", {}).values()]
                for record in scope.values()}
        data["recordings"] = {k: v for k, v in data["recordings"].items() if k in used}
        return data, changes

    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def record(self, measured: dict[str, dict[str, float]], provenance: dict) -> list[str]:
        """Merge ``measured`` into the file on disk under its lock; returns the change lines.

        The file is re-read under the lock, so two concurrent updates both land."""
        with file_lock(self.lock_path()):
            fresh = Baselines.load(self.data.get("profile", self.path.stem), self.path)
            fresh.hardware_class, fresh.cpu, fresh.emulated = (self.hardware_class, self.cpu,
                                                              self.emulated)
            data, changes = fresh.updated(measured, provenance)
            if changes or data != fresh.data:
                fresh.write(data)
        return changes

    def write(self, data: dict) -> None:
        target = self.path.resolve() if self.path.is_symlink() else self.path
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n", mode)


def _recording_cpu(data: dict, record: dict | None) -> str | None:
    """The CPU model (``vendor-family-model``) a value's recording ran on, if it says."""
    machine = data.get("recordings", {}).get((record or {}).get("recorded"), {}).get("machine", {})
    if not {"vendor", "family", "model"} <= set(machine):
        return None
    return f"{machine['vendor']}-{machine['family']}-{machine['model']}"


def _recorded_natively(data: dict, record: dict | None) -> bool:
    """Whether a value comes from a real machine, not an emulated class: a real machine's value
    is the truth that emulation is checked against, never replaced by it."""
    recording = data.get("recordings", {}).get((record or {}).get("recorded"), {})
    return bool(recording.get("machine")) and not recording["machine"].get("emulated_on")


def _narrow_to_its_cpu(data: dict, entry: dict, hardware_class: str, metric: str) -> None:
    """A class-wide value of a metric now kept per CPU model moves to the CPU model that
    recorded it (its provenance says which), so recording on one CPU never drops another's.
    A value whose provenance names no CPU stays where it is: the nearest-class fallback still
    finds it."""
    coarse = entry.get("by_hardware", {}).get(hardware_class, {})
    record = coarse.get(metric)
    cpu = _recording_cpu(data, record)
    if record is None or cpu is None:
        return
    del coarse[metric]
    if not coarse:
        entry["by_hardware"].pop(hardware_class)
    entry["by_hardware"].setdefault(f"{hardware_class}/{cpu}", {}).setdefault(metric, record)


def validate(path: Path, data) -> None:
    """Schema check: one error naming the key at fault, before any gate reads the file."""
    def bad(what: str):
        raise BaselineError(f"baseline file {path} is malformed: {what}. Restore it from git "
                            f"or re-record it with `{UPDATE_HINT}`.")

    def number(where: str, value) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            bad(f"{where} must be a finite number, got {value!r}")

    def tolerances(where: str, table) -> None:
        if not isinstance(table, dict):
            bad(f"{where} must be an object")
        for metric, tol in table.items():
            if metric not in KNOWN_METRICS:
                bad(f'{where}["{metric}"]: unknown metric (known: {", ".join(KNOWN_METRICS)})')
            if not isinstance(tol, dict) or len({"abs", "rel"} & set(tol)) != 1 \
                    or set(tol) - {"abs", "rel", "why"}:
                bad(f'{where}["{metric}"] must be {{"abs": x}} or {{"rel": x}} (plus "why")')
            kind = "abs" if "abs" in tol else "rel"
            number(f'{where}["{metric}"]["{kind}"]', tol[kind])
            if tol[kind] < 0:
                bad(f'{where}["{metric}"]["{kind}"] is negative ({tol[kind]})')

    def values(where: str, table, recordings: dict) -> None:
        if not isinstance(table, dict):
            bad(f"{where} must be an object")
        for metric, record in table.items():
            if metric not in KNOWN_METRICS:
                bad(f'{where}["{metric}"]: unknown metric (known: {", ".join(KNOWN_METRICS)})')
            if not isinstance(record, dict) or "value" not in record:
                bad(f'{where}["{metric}"] must be {{"value": number, "recorded": id}}')
            number(f'{where}["{metric}"]["value"]', record["value"])
            if record.get("recorded") not in recordings:
                bad(f'{where}["{metric}"]["recorded"] names no entry of "recordings"')

    if not isinstance(data, dict):
        bad("the top level must be an object")
    if data.get("schema") != SCHEMA:
        bad(f'"schema" is {data.get("schema")!r}, this compbench reads schema {SCHEMA} (values '
            "per hardware class, provenance per value); re-record the profile")
    recordings = data.get("recordings")
    if not isinstance(recordings, dict):
        bad('missing "recordings" object')
    if not isinstance(data.get("variants"), dict):
        bad('missing "variants" object')
    tolerances('"tolerances"', data.get("tolerances", {}))
    tolerances('"cross_hardware_tolerances"', data.get("cross_hardware_tolerances", {}))
    accuracy_floor.parse(data, bad, ACCURACY_METRICS)
    for variant_id, entry in data["variants"].items():
        where = f'variants["{variant_id}"]'
        if not isinstance(entry, dict) or set(entry) - {"recipe", SHARED, "by_hardware", "tolerances"}:
            bad(f'{where} must be an object with "recipe", "shared", "by_hardware" and "tolerances"')
        if not isinstance(entry.get("recipe", ""), str):
            bad(f'{where}["recipe"] must be the recipe and parameters it was recorded for')
        values(f'{where}["shared"]', entry.get(SHARED, {}), recordings)
        by_hardware = entry.get("by_hardware", {})
        if not isinstance(by_hardware, dict):
            bad(f'{where}["by_hardware"] must be an object of hardware classes')
        for cls, table in by_hardware.items():
            values(f'{where}["by_hardware"]["{cls}"]', table, recordings)
        tolerances(f'{where}["tolerances"]', entry.get("tolerances", {}))
