"""False alarms over whole sessions: unchanged code, timed again and again, against the baseline.

The in-process study (``study.py``) times one pair many times; a nightly run is different — a
new process on a machine in another state, every variant against a value recorded on another
day. This reads the pytest-benchmark JSON of repeated sessions of the unchanged suite
(``pytest bench/test_speed.py --benchmark-json=<file>``; every speed-up's interval is in its
``extra_info``) and counts, for each tolerance, the checks the gate would have called a
regression or inconclusive against the baseline file's speed-ups for this hardware class — at
fixed tolerances, and with the file's own (per-variant) tolerances, i.e. as the gate runs today.
It also keeps each variant's fastest round, which ``tolerances.py`` classifies by.

  .venv/bin/python docs/speed-gate-study/sessions.py baselines/default.json run-*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TOLERANCES = (0.05, 0.075, 0.10, 0.15, 0.20)


def speedups(session: Path) -> dict[str, dict]:
    data = json.loads(session.read_text())
    return {b["extra_info"]["model"] + "/" + b["extra_info"]["compression"] + "/"
            + b["extra_info"]["engine"]: b["extra_info"]["speedup"]
            for b in data["benchmarks"] if "speedup" in b.get("extra_info", {})}


def fastest_ms(session: Path) -> dict[str, float]:
    data = json.loads(session.read_text())
    return {b["extra_info"]["model"] + "/" + b["extra_info"]["compression"] + "/"
            + b["extra_info"]["engine"]: b["stats"]["min"] * 1e3 for b in data["benchmarks"]}


def count(checks, floor) -> dict:
    flagged = [vid for vid, s in checks if s["high"] < floor(vid)]
    unsure = [vid for vid, s in checks if s["low"] < floor(vid) <= s["high"]]
    return {"checks": len(checks), "regression": len(flagged), "inconclusive": len(unsure),
            "flagged": sorted(set(flagged))}


def show(label: str, row: dict) -> None:
    n = row["checks"]
    print(f"{label}: {n} checks, {row['regression']} flagged as regression "
          f"({row['regression'] / n:.1%}), {row['inconclusive']} inconclusive "
          f"({row['inconclusive'] / n:.1%})" + (f": {row['flagged']}" if row["flagged"] else ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("baselines", type=Path)
    parser.add_argument("sessions", type=Path, nargs="+")
    parser.add_argument("--hardware-class", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from compbench import hardware

    cls = args.hardware_class or hardware.current().hardware_class
    variants = json.loads(args.baselines.read_text())["variants"]
    stored = {vid: entry["by_hardware"][cls]["speedup"]["value"] for vid, entry in variants.items()
              if "speedup" in entry.get("by_hardware", {}).get(cls, {})}
    runs = [speedups(path) for path in args.sessions]
    checks = [(vid, run[vid]) for run in runs for vid in run if vid in stored]
    table = {}
    for t in TOLERANCES:
        table[str(t)] = count(checks, lambda vid, t=t: stored[vid] * (1 - t))
        show(f"tolerance {t}", table[str(t)])
    from compbench.runner.baselines import Baselines

    gate = Baselines.load("study", args.baselines)
    gate.hardware_class = cls
    as_filed = count(checks, lambda vid: stored[vid] * (1 - gate.tolerance(vid, "speedup")["rel"]))
    show("the file's own tolerances", as_filed)
    fastest: dict[str, float] = {}
    for path in args.sessions:
        for vid, ms in fastest_ms(path).items():
            fastest[vid] = min(ms, fastest.get(vid, ms))
    ratios = {vid: [run[vid]["estimate"] / stored[vid] for run in runs if vid in run]
              for vid in stored}
    worst = sorted(((min(r), vid) for vid, r in ratios.items() if r))[:8]
    widths = [s["high"] / s["low"] - 1 for _, s in checks]
    print("interval width median / p90:", f"{np.median(widths):.3f} / {np.percentile(widths, 90):.3f}")
    print("lowest measured / stored speed-up:", ", ".join(f"{vid} {r:.3f}" for r, vid in worst))
    if args.out:
        # hand-written context (command, note, observations from other runs) is kept
        kept = json.loads(args.out.read_text()) if args.out.exists() else {}
        kept.update({"hardware_class": cls, "sessions": [str(p) for p in args.sessions],
                     "tolerances": table, "as_filed": as_filed, "fastest_ms": fastest,
                     "ratio_to_stored": ratios})
        args.out.write_text(json.dumps(kept, indent=1))


if __name__ == "__main__":
    main()
