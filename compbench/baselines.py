"""Stored reference values per profile and the two-sided gate against them.

As in NNCF's conformance tests, a result better than the baseline by more than the tolerance
fails too ("stale baseline"): otherwise an improvement is silently absorbed and a later
regression back to the old value would pass unnoticed. Updates happen only with
``--update-baselines``, atomically, with provenance, and print what changed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from compbench.cache import atomic_write_text
from compbench.errors import BaselineError
from compbench.settings import REPO_ROOT

BASELINE_DIR = REPO_ROOT / "baselines"
UPDATE_HINT = "pytest bench --update-baselines"

DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "easy": {"abs": 0.005}, "medium": {"abs": 0.005}, "hard": {"abs": 0.005},
    "top1": {"abs": 0.005},
    "size_bytes": {"rel": 0.02},
    "size_gzip_bytes": {"rel": 0.02},
    # same-session latency ratio on a shared 2-core machine: only large moves are signal (a lost
    # int8 path, 8x -> 1x); measured noise between two runs reached ±40 %
    "speedup": {"rel": 0.65},
}


def baseline_path(profile: str) -> Path:
    return BASELINE_DIR / f"{profile}.json"


@dataclass(frozen=True)
class Check:
    """Outcome of one metric against its baseline; ``problem`` is None when within tolerance."""
    metric: str
    measured: float
    baseline: float | None
    tolerance: str
    problem: str | None

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.measured - self.baseline


class Baselines:
    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, profile: str, path: Path | None = None) -> Baselines:
        path = path or baseline_path(profile)
        if not path.exists():
            return cls(path, {"profile": profile, "tolerances": DEFAULT_TOLERANCES, "variants": {}})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BaselineError(f"baseline file {path} is not valid JSON ({exc}). Fix it by hand "
                                f"or restore it from git (git checkout -- {path.name}), then "
                                f"re-record with `{UPDATE_HINT}`.") from None
        cls._validate(path, data)
        return cls(path, data)

    @staticmethod
    def _validate(path: Path, data) -> None:
        def bad(what: str):
            raise BaselineError(f"baseline file {path} is malformed: {what}. Restore it from git "
                                f"or re-record it with `{UPDATE_HINT}`.")

        if not isinstance(data, dict):
            bad("the top level must be an object")
        if not isinstance(data.get("variants"), dict):
            bad('missing "variants" object')
        if not isinstance(data.get("tolerances", {}), dict):
            bad('"tolerances" must be an object')
        for variant_id, entry in data["variants"].items():
            if not isinstance(entry, dict):
                bad(f'variants["{variant_id}"] must be an object')
            for metric, value in entry.items():
                if metric == "tolerances":
                    continue
                if not isinstance(value, (int, float)) or isinstance(value, bool) \
                        or not math.isfinite(value):
                    bad(f'variants["{variant_id}"]["{metric}"] must be a finite number, '
                        f"got {value!r}")

    def entry(self, variant_id: str) -> dict | None:
        return self.data["variants"].get(variant_id)

    def tolerance(self, variant_id: str, metric: str) -> dict[str, float]:
        entry = self.entry(variant_id) or {}
        for source in (entry.get("tolerances", {}), self.data.get("tolerances", {}),
                       DEFAULT_TOLERANCES):
            if metric in source:
                return source[metric]
        raise BaselineError(f"no tolerance for metric {metric!r} in {self.path} "
                            '(add it under "tolerances")')

    def check(self, variant_id: str, metric: str, measured: float,
              higher_is_better: bool = True, two_sided: bool = True) -> Check:
        """Worse beyond tolerance = regression; better beyond = stale baseline (two-sided)."""
        entry = self.entry(variant_id)
        tol = self.tolerance(variant_id, metric)
        tol_text = f"±{tol['abs']}" if "abs" in tol else f"±{tol['rel']:.0%}"
        if entry is None or metric not in entry:
            return Check(metric, measured, None, tol_text,
                         f"{variant_id}: no baseline for {metric!r} in {self.path}. "
                         f"Measured {measured:.6g}. Record it with `{UPDATE_HINT}`.")
        baseline = float(entry[metric])
        allowed = tol["abs"] if "abs" in tol else tol["rel"] * abs(baseline)
        delta = measured - baseline
        worse = -delta if higher_is_better else delta
        problem = None
        if worse > allowed:
            problem = (f"REGRESSION {variant_id}: {metric} = {measured:.6g}, baseline "
                       f"{baseline:.6g} (Δ {delta:+.6g}, tolerance {tol_text}). If the change is "
                       f"intended, re-record with `{UPDATE_HINT}`.")
        elif two_sided and -worse > allowed:
            problem = (f"STALE BASELINE {variant_id}: {metric} = {measured:.6g} is better than "
                       f"baseline {baseline:.6g} (Δ {delta:+.6g}, tolerance {tol_text}). "
                       f"Record the improvement with `{UPDATE_HINT}`.")
        return Check(metric, measured, baseline, tol_text, problem)

    def updated(self, measured: dict[str, dict[str, float]], provenance: dict) -> tuple[dict, list[str]]:
        """New file content with ``measured`` merged in, and human-readable change lines."""
        data = json.loads(json.dumps(self.data))
        data.setdefault("tolerances", DEFAULT_TOLERANCES)
        changes = []
        for variant_id, values in sorted(measured.items()):
            entry = data["variants"].setdefault(variant_id, {})
            for metric, value in sorted(values.items()):
                old = entry.get(metric)
                if old != value:
                    changes.append(f"{variant_id} {metric}: "
                                   f"{'(new)' if old is None else f'{old:.6g}'} → {value:.6g}")
                entry[metric] = value
        data["provenance"] = provenance
        return data, changes

    def write(self, data: dict) -> None:
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=False) + "\n")
