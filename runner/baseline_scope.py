"""Where a baseline value lives, which stored value a machine is gated on, and who may replace it.

Values that depend on the CPU's int8 instruction set (all speed-ups, the compression census, the
accuracy of variants whose row says ``cpu_dependent_accuracy``) are kept per hardware class
(``compbench.hardware``), some of them per CPU model within it; the rest (fp32 accuracy, sizes)
are shared by every machine. A run on a class without its own values is gated on the shared ones
and compared with the nearest class under the wider cross-hardware tolerances, and every check
says which basis it used (docs/concepts/baselines.md).

Every value carries the id of the recording (commit, date, machine, packages, command) that
measured it, so updating one variant restamps only that variant, and a value a real machine
recorded is never replaced by an emulated class's (``compbench.isa_emulation``).
"""

from __future__ import annotations

import functools
import hashlib
import json

from compbench import hardware
from compbench.runner.baseline_store import SHARED
from compbench.runner.tolerances import CENSUS_METRICS, accuracy_metrics

NEAREST = " (nearest)"   # a check's basis: another class's value, at the cross-class tolerance


def hardware_dependent(variant_id: str, metric: str) -> bool:
    """Whether ``metric`` of this variant is stored per hardware class."""
    if metric == "speedup":
        return True
    if metric in CENSUS_METRICS:
        # the graph an engine executes is its own choice per instruction set (int8 may run
        # otherwise without VNNI, layout passes and fusions follow the vector width): a class
        # is gated on its own census only
        return True
    if metric not in accuracy_metrics():
        return False
    from compbench.runner.matrix import variants

    variant = variants().get(variant_id)
    return bool(variant and variant.cpu_dependent_accuracy)


def cpu_model_dependent(variant_id: str, metric: str) -> bool:
    """Whether ``metric`` of this variant is stored per CPU model (within its class).

    Accuracy: the rows known to differ between CPU models of one class. Speed-up: every row
    whose kernels depend on the instruction set (``cpu_dependent_accuracy``: the int8 rows and
    the TF fine-tunes), because one class spans very different int8 units, and a class-wide
    value recorded on the faster CPU would turn the slower one red (docs/concepts/baselines.md).
    """
    from compbench.runner.matrix import variants

    variant = variants().get(variant_id)
    if variant is None:
        return False
    if metric == "speedup":
        return variant.cpu_dependent_accuracy
    return variant.cpu_model_dependent_accuracy and metric in accuracy_metrics()


def recipe_of(variant_id: str) -> str | None:
    """The row's recipe with its parameters, kept with the variant's values: a value recorded
    for other parameters measured another model, whatever the variant's id says. A chain's root
    also names the digest of the weights this repository trains (``repo:`` refs): retrained
    weights are another model too, on every machine, not only on the one that re-recorded."""
    from compbench.runner.matrix import upstream_of, variants

    variant = variants().get(variant_id)
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


def value_key(variant_id: str, metric: str, hardware_class: str, cpu: str) -> str:
    """The ``by_hardware`` key this machine's value of a per-hardware metric lives under."""
    if cpu_model_dependent(variant_id, metric):
        return f"{hardware_class}/{cpu}"
    return hardware_class


def stored(data: dict, variant_id: str, metric: str, hardware_class: str,
           cpu: str) -> tuple[dict | None, str, bool]:
    """(value record, basis, cross-hardware?) of the baseline this machine gates on."""
    entry = data["variants"].get(variant_id, {})
    if not hardware_dependent(variant_id, metric):
        return entry.get(SHARED, {}).get(metric), SHARED, False
    classes = {cls: values[metric] for cls, values in entry.get("by_hardware", {}).items()
               if metric in values}
    own = value_key(variant_id, metric, hardware_class, cpu)
    if own in classes:
        return classes[own], own, False
    coarse = classes.get(hardware_class)
    if own != hardware_class and coarse and recording_cpu(data, coarse) == cpu:
        return coarse, hardware_class, False   # a class-wide value this CPU recorded
    nearest = hardware.nearest(own, sorted(classes))
    if nearest is None:
        return None, own, False
    return classes[nearest], f"{nearest}{NEAREST}", True


def merged(data: dict, measured: dict[str, dict[str, float]], provenance: dict,
           hardware_class: str, cpu: str, emulated: bool) -> tuple[dict, list[str]]:
    """New file content with ``measured`` merged in, and human-readable change lines."""
    data = json.loads(json.dumps(data))
    record_id = "r" + hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()[:10]
    changes = []
    for variant_id, values in sorted(measured.items()):
        left = data.get("emulation", {}).get(hardware_class, {}).get(variant_id)
        if emulated and left:
            changes.append(f"{variant_id}: not recorded under emulation, it needs a real "
                           f"{hardware_class} machine ({left})")
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
            if emulated and not per_class:
                continue   # shared values belong to native recordings
            if emulated and cpu_model_dependent(variant_id, metric):
                # kept per CPU model because CPU models of one class differ: a cap on this
                # CPU emulates the class's instructions, not another CPU model's numerics
                changes.append(f"{variant_id} {metric}: not recorded under emulation, it "
                               "is kept per CPU model (real machines only)")
                continue
            key = value_key(variant_id, metric, hardware_class, cpu)
            scope = (entry.setdefault("by_hardware", {}).setdefault(key, {})
                     if per_class else entry.setdefault(SHARED, {}))
            # a metric that moved between shared, per-class and per-CPU-model storage
            # leaves the coarser place
            (entry.get(SHARED, {}) if per_class else {}).pop(metric, None)
            if key != hardware_class:   # every class's coarse value, not only ours
                for coarse in [k for k in entry.get("by_hardware", {}) if "/" not in k]:
                    _narrow_to_its_cpu(data, entry, coarse, metric)
            old = scope.get(metric, {}).get("value")
            where = f" [{key}]" if per_class else ""
            if emulated and _recorded_natively(data, scope.get(metric)):
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


def recording_cpu(data: dict, record: dict | None) -> str | None:
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
    cpu = recording_cpu(data, record)
    if record is None or cpu is None:
        return
    del coarse[metric]
    if not coarse:
        entry["by_hardware"].pop(hardware_class)
    entry["by_hardware"].setdefault(f"{hardware_class}/{cpu}", {}).setdefault(metric, record)
