"""False alarms over whole sessions: unchanged code, timed again and again, against the baseline.

The in-process study (``study.py``) times one pair many times; a nightly run is different — a
new process on a machine in another state, every variant against a value recorded on another
day. This reads the pytest-benchmark JSON of repeated sessions of the unchanged suite
(``pytest bench/test_speed.py --benchmark-json=<file>``; every speed-up's interval is in its
``extra_info``) and counts, for each tolerance, the checks the gate would have called a
regression or inconclusive against the baseline file's speed-ups for this hardware class.

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
        flagged = [vid for vid, s in checks if s["high"] < stored[vid] * (1 - t)]
        unsure = [vid for vid, s in checks if s["low"] < stored[vid] * (1 - t) <= s["high"]]
        table[str(t)] = {"checks": len(checks), "regression": len(flagged),
                         "inconclusive": len(unsure), "flagged": sorted(set(flagged))}
        print(f"tolerance {t}: {len(checks)} checks, {len(flagged)} flagged as regression "
              f"({len(flagged) / len(checks):.1%}), {len(unsure)} inconclusive "
              f"({len(unsure) / len(checks):.1%})" + (f": {sorted(set(flagged))}" if flagged else ""))
    ratios = {vid: [run[vid]["estimate"] / stored[vid] for run in runs if vid in run]
              for vid in stored}
    worst = sorted(((min(r), vid) for vid, r in ratios.items() if r))[:8]
    widths = [s["high"] / s["low"] - 1 for _, s in checks]
    print("interval width median / p90:", f"{np.median(widths):.3f} / {np.percentile(widths, 90):.3f}")
    print("lowest measured / stored speed-up:", ", ".join(f"{vid} {r:.3f}" for r, vid in worst))
    if args.out:
        args.out.write_text(json.dumps({"hardware_class": cls, "sessions": [str(p) for p in args.sessions],
                                        "tolerances": table,
                                        "ratio_to_stored": ratios}, indent=1))


if __name__ == "__main__":
    main()
