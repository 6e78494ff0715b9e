"""What counting the pilot does to the interval itself, with the machine taken out.

When the pilot counts (``PairingPlan.pilot_counts``), the number of further rounds depends on
the pilot's own scatter: a pilot that happened to come out narrow stops the pair early, and
its rounds stay in the final interval — optional stopping, which can make a 95 % interval
cover the truth less often. The gate's false alarm is the interval lying entirely *below* the
true speed-up, so that one-sided miss is what this counts, for both plans, on simulated rounds
whose true speed-up is known (1): i.i.d. per-round log-ratios, Student-t with 3 degrees of
freedom (heavy-tailed, as a shared machine's rounds are), at several scales around the one
where the target width is reached at the minimum. No timing: it runs the project's own
``PairingPlan.rounds_after`` and ``speedup_interval`` on the simulated times.

  .venv/bin/python docs/speed-gate-study/optional_stopping.py --pairs 2000
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from compbench.paired_timing import PairedTiming, PairingPlan

SCALES = (0.02, 0.04, 0.06, 0.10, 0.20)   # scale of the per-round log-ratio's t(3) noise
ROUND_S = 0.002                             # simulated seconds per side and round


def one_pair(plan: PairingPlan, rng: np.random.Generator, scale: float) -> PairedTiming:
    def rounds(n: int) -> PairedTiming:
        log_ratio = scale * rng.standard_t(3, size=n)
        return PairedTiming(tuple(ROUND_S * np.exp(log_ratio)), (ROUND_S,) * n)

    pilot = rounds(plan.pilot_rounds)
    further = rounds(plan.rounds_after(pilot))
    if not plan.pilot_counts:
        return further
    return PairedTiming(pilot.reference_s + further.reference_s,
                        pilot.candidate_s + further.candidate_s, pilot.rounds)


def misses(plan: PairingPlan, pairs: int, scale: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    below = above = 0
    rounds = []
    for _ in range(pairs):
        timing = one_pair(plan, rng, scale)
        interval = timing.interval
        below += interval.high < 1.0
        above += interval.low > 1.0
        rounds.append(timing.rounds)
    return {"below": below / pairs, "above": above / pairs,
            "rounds_median": float(np.median(rounds)), "rounds_mean": float(np.mean(rounds))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    bench = PairingPlan()
    plans = {"pilot counted": replace(bench, pilot_counts=True),
             "pilot not counted": replace(bench, pilot_counts=False)}
    table = {}
    for scale in SCALES:
        for name, plan in plans.items():
            row = misses(plan, args.pairs, scale, seed=int(scale * 1e4))
            table[f"{scale} {name}"] = row
            print(f"scale {scale}, {name}: interval entirely below the truth {row['below']:.2%}, "
                  f"entirely above {row['above']:.2%}, rounds median {row['rounds_median']:.0f} "
                  f"(mean {row['rounds_mean']:.1f})", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"pairs": args.pairs, "noise": "t(3) × scale",
                                        "plan": bench.__dict__, "table": table}, indent=1))


if __name__ == "__main__":
    main()
