"""Does an emulated hardware class measure what a real machine of that class measured?

Emulation (``compbench.isa_emulation``) is only worth its values where it reproduces a real
machine: a cap on oneDNN changes the kernels, not the CPU model, and a build's fp32 numerics
may still differ. This check evaluates, under the emulated class, every variant whose stored
values of that class come from a real machine of it, and compares them at the same-class
tolerance. A row that disagrees is written to the baseline file's ``emulation`` section as
"needs a real machine of that class", with the measured difference, and an emulated recording
leaves it alone.

The measurement runs in a child interpreter with ``COMPBENCH_EMULATE_CLASS`` set (the caps must
be in place before any engine library loads), through the same cached pipeline as the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from compbench import isa_emulation
from compbench.cache import file_lock
from compbench.errors import CompbenchError
from compbench.runner.baselines import Baselines
from compbench.runner.verdicts import allowance
from compbench.settings import REPO_ROOT

SECTION = "emulation"


@dataclass(frozen=True)
class Agreement:
    variant_id: str
    metric: str
    real: float
    emulated: float | None    # None: not measurable under emulation (reason in ``note``)
    tolerance: float
    note: str = ""

    @property
    def delta(self) -> float | None:
        return None if self.emulated is None else self.emulated - self.real

    @property
    def agrees(self) -> bool:
        return self.delta is not None and abs(self.delta) <= self.tolerance


def real_values(baselines: Baselines, target: str) -> dict[str, dict[str, float]]:
    """Per variant, the values of ``target`` recorded on a real (not emulated) machine of it."""
    data = baselines.data
    found: dict[str, dict[str, float]] = {}
    for variant_id, entry in data["variants"].items():
        for key, values in entry.get("by_hardware", {}).items():
            if key.partition("/")[0] != target:
                continue
            for metric, record in values.items():
                machine = data.get("recordings", {}).get(record["recorded"], {}).get("machine", {})
                if metric != "speedup" and machine and not machine.get("emulated_on"):
                    found.setdefault(variant_id, {})[metric] = record["value"]
    return found


def measure(variant_ids: list[str], target: str, cache_dir: str | None) -> dict[str, dict]:
    """{variant: metrics, or {"not_emulated": reason}} measured in a child capped to ``target``."""
    env = dict(os.environ, **{isa_emulation.VARIABLE: target})
    if cache_dir:
        env["COMPBENCH_CACHE"] = str(cache_dir)
    # the child's progress (one line per variant) and any error go straight to the terminal
    done = subprocess.run([sys.executable, "-m", "compbench.runner.emulation_check", *variant_ids],
                          cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise CompbenchError(f"the emulated measurement ({isa_emulation.VARIABLE}={target}) "
                             "failed: its error is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(baselines: Baselines, target: str, measured: dict[str, dict]) -> list[Agreement]:
    rows = []
    for variant_id, values in sorted(real_values(baselines, target).items()):
        found = measured.get(variant_id)
        if found is None:
            continue
        for metric, real in sorted(values.items()):
            limits = baselines.tolerance(variant_id, metric)
            tolerance = allowance(limits, real) if limits else 0.0
            if "not_emulated" in found:
                rows.append(Agreement(variant_id, metric, real, None, tolerance,
                                      found["not_emulated"]))
            else:
                rows.append(Agreement(variant_id, metric, real, found[metric], tolerance))
    return rows


def render(rows: list[Agreement], target: str, host: str) -> str:
    lines = [f"Emulated `{target}` on a `{host}` CPU against values recorded on real `{target}` "
             "machines (same-class tolerance):", "",
             "| variant | metric | real | emulated | Δ | tolerance | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.emulated is None:
            lines.append(f"| {row.variant_id} | {row.metric} | {row.real:.4f} | – | – | "
                         f"{row.tolerance:g} | not emulated: {row.note} |")
            continue
        verdict = "agrees" if row.agrees else "needs a real machine of that class"
        lines.append(f"| {row.variant_id} | {row.metric} | {row.real:.4f} | {row.emulated:.4f} "
                     f"| {row.delta:+.4f} | {row.tolerance:g} | {verdict} |")
    return "\n".join(lines)


def needs_real_machine(rows: list[Agreement]) -> dict[str, str]:
    """{variant: why} for the rows emulation does not reproduce."""
    found: dict[str, list[str]] = {}
    for row in rows:
        if row.emulated is not None and not row.agrees:
            found.setdefault(row.variant_id, []).append(
                f"{row.metric} emulated {row.emulated:.4f} vs real {row.real:.4f} "
                f"({row.delta:+.4f}, tolerance {row.tolerance:g})")
    return {vid: "; ".join(parts) for vid, parts in found.items()}


def record(baselines: Baselines, target: str, rows: list[Agreement]) -> None:
    """Write which rows of ``target`` need a real machine into the baseline file (under its
    lock): the verdict of this check replaces that class's previous one."""
    with file_lock(baselines.lock_path()):
        fresh = Baselines.load(baselines.data.get("profile", baselines.path.stem), baselines.path)
        data = json.loads(json.dumps(fresh.data))
        data.setdefault(SECTION, {})[target] = needs_real_machine(rows)
        fresh.write(data)


def is_left_to_real_machines(data: dict, target: str, variant_id: str) -> str | None:
    """Why an emulated recording of ``target`` must not write ``variant_id`` (None: it may)."""
    return data.get(SECTION, {}).get(target, {}).get(variant_id)


def _measure_here(variant_ids: list[str]) -> dict[str, dict]:
    from compbench.assets import Assets
    from compbench.cache import ArtifactCache
    from compbench.errors import NotEmulated
    from compbench.runner.matrix import variants
    from compbench.runner.pipeline import VariantPipeline

    assets, cache, tasks, found = Assets(), ArtifactCache(), {}, {}
    for variant_id in variant_ids:
        variant = variants()[variant_id]
        pipeline = VariantPipeline(variant, assets, cache, tasks.get(variant.model.name))
        try:
            pipeline.prepare()
        except NotEmulated as exc:
            found[variant_id] = {"not_emulated": exc.reason}
            print(f"emulated {isa_emulation.target()}: [{len(found)}/{len(variant_ids)}] "
                  f"{variant_id} not emulated", file=sys.stderr, flush=True)
            continue
        tasks[variant.model.name] = pipeline.task
        found[variant_id] = pipeline.evaluation["metrics"]
        print(f"emulated {isa_emulation.target()}: [{len(found)}/{len(variant_ids)}] "
              f"{variant_id} evaluated", file=sys.stderr, flush=True)
    return found


if __name__ == "__main__":
    print(json.dumps(_measure_here(sys.argv[1:]), sort_keys=True, default=float))
