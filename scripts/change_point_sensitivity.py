"""Writes docs/concepts/change-points.md: the method, and what it misses and invents.

Nothing is timed here. The noise is this suite's own: every (variant, machine, commit) measured
in more than one session of the given history databases gives its residuals around its own mean
(the session-to-session scatter of unchanged code on one machine); synthetic series are drawn
from those residuals (with random signs), a step is put in, and
``compbench.runner.change_points`` runs on them as ``compbench history`` does. Usage:

    python scripts/change_point_sensitivity.py HISTORY.sqlite [...] [--out docs/concepts/change-points.md]

Give every history database of one kind of machine you have (e.g. the cold CI runs' and the
warm runs after them): a series never spans two commits, so a commit that changed the
benchmarked code is a new series, not noise.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compbench.runner.change_points import (  # noqa: E402
    MIN_SIZE,
    PERMUTATIONS,
    SIGNIFICANT,
    SUGGESTIVE,
    e_divisive,
    machine_key,
)

BEFORE = 20        # unchanged nights before a step
FLAT = 30          # nights of a flat series
SEED = 7


def residual_pools(paths: list[str]) -> tuple[dict[str, np.ndarray], dict[str, int],
                                               dict[str, list[tuple[str, np.ndarray]]]]:
    """Per kind (speed-up as log ratio, p50 as log ratio, accuracy in points): the pooled
    residuals of every (variant, machine, commit, metric) seen in two sessions or more, and
    each such series' own residuals. A series never spans two commits: a change between
    commits is a step, not noise, so databases of many commits can be given."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for path in paths:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            sessions = {sid: (machine_key(hc, json.loads(m or "{}")), commit) for sid, hc, m, commit
                        in db.execute("SELECT id, hardware_class, machine, git_commit FROM sessions")}
            for sid, variant, speedup, p50 in db.execute(
                    "SELECT session_id, variant, speedup, p50_ms FROM results"):
                for kind, value in (("speed-up", speedup), ("p50 latency", p50)):
                    if value and value > 0:
                        groups[(kind, variant, *sessions[sid])].append(float(np.log(value)))
            for sid, variant, metric, value in db.execute(
                    "SELECT session_id, variant, metric, value FROM metrics"):
                if value is not None:
                    groups[("accuracy", variant, *sessions[sid], metric)].append(float(value))
    pools: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    series: dict[str, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for key, values in groups.items():
        if len(values) < 2:
            continue
        x = np.asarray(values)
        residuals = (x - x.mean()) * np.sqrt(len(x) / (len(x) - 1))
        pools[key[0]] += list(residuals)
        series[key[0]].append((key[1], residuals))
        counts[key[0]] += 1
    return {k: np.asarray(v) for k, v in pools.items()}, dict(counts), dict(series)


def by_engine(series: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The speed-up residuals pooled per engine: one pool mixes engines whose session-to-session
    scatter differs by an order of magnitude, while each variant's series is tested with its
    own noise. The engine is known before any measurement, so grouping by it (unlike grouping
    by each series' own measured spread) does not make the quiet group look quieter than it is."""
    pools: dict[str, list[np.ndarray]] = defaultdict(list)
    for variant, residuals in series:
        pools[variant.rsplit("/", 1)[-1]].append(residuals)
    return {engine: np.concatenate(parts) for engine, parts in sorted(pools.items())}


def sessions_read(paths: list[str]) -> str:
    """How many sessions the databases hold and of which commits, dates and machines: what the
    noise is from, named by what a reader can look up (a local path means nothing on the page)."""
    by_commit: dict[str, int] = defaultdict(int)
    dates, machines = set(), set()
    for path in paths:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            for commit, date, hc, machine in db.execute(
                    "SELECT git_commit, date, hardware_class, machine FROM sessions ORDER BY id"):
                by_commit[(commit or "?")[:12]] += 1
                dates.add(date[:10])
                machines.add(machine_key(hc, json.loads(machine or "{}")))
    described = (f"{sum(by_commit.values())} sessions of {len(by_commit)} commits ("
                 + ", ".join(f"`{c}` ×{n}" for c, n in by_commit.items())
                 + f"), {min(dates)} to {max(dates)}, on {', '.join(sorted(machines))}")
    return described


def draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(pool, n) * rng.choice([-1.0, 1.0], n)


def wilson(share: float, n: int) -> tuple[float, float]:
    """95 % interval of a share measured in ``n`` trials: how far the rate could be from it."""
    z = 1.96
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def false_alarms(pool: np.ndarray, trials: int, rng) -> float:
    return float(np.mean([any(s.significant for s in e_divisive(draw(pool, FLAT, rng)))
                          for _ in range(trials)]))


def detected(pool: np.ndarray, step: float, after: int, trials: int, rng) -> float:
    """Share of series (BEFORE flat nights, then ``after`` nights shifted by ``step``) with a
    significant change point within one night of the true one, in the step's direction."""
    hits = 0
    for _ in range(trials):
        x = draw(pool, BEFORE + after, rng)
        x[BEFORE:] += step
        for split in e_divisive(x):
            moved = np.median(x[split.index:]) - np.median(x[:split.index])
            if split.significant and abs(split.index - BEFORE) <= 1 and moved * step > 0:
                hits += 1
                break
    return hits / trials


def page(paths: list[str], trials: int) -> str:
    rng = np.random.default_rng(SEED)
    pools, counts, series = residual_pools(paths)
    described = sessions_read(paths)
    speed, accuracy = pools.get("speed-up", np.zeros(0)), pools.get("accuracy", np.zeros(0))
    if not len(speed):
        raise SystemExit(f"no speed-up measured twice on one machine in {', '.join(paths)}")
    lines = [
        "# Change points over the history",
        "",
        "<!-- generated by scripts/change_point_sensitivity.py; edit the script, not this page -->",
        "",
        "A gate compares one night with one stored value: a drift of a few percent a night inside",
        "the tolerance passes every gate until the baseline is far behind, and one red night on a",
        "shared machine is as often a neighbour's load as a change in the code. So `compbench",
        "history` also reads each metric's whole series and shows, per variant, a **state** and",
        "the **change point** behind it; once it is red, [`compbench bisect`](../how-to/bisect.md)",
        "finds the commit.",
        "",
        "## The method",
        "",
        "Every metric a gate reads (speed-up, p50/p90/p99 latency, size, each accuracy metric)",
        "is one series per variant and per machine (hardware class and CPU model: another CPU is",
        "another series, not a change). `runner/change_points.py` finds its change points with",
        "E-divisive means (Matteson & James 2014, the method of MongoDB's",
        "signal-processing-algorithms and Apache Otava): the split with the largest size-weighted",
        "energy distance, kept when at most a share *p* of "
        f"{PERMUTATIONS} permutations reach it, then again inside the parts; at least "
        f"{MIN_SIZE} runs each side. Speed-ups, latencies and sizes are analysed as logarithms",
        "(a step is a ratio), accuracies as points. Each change point carries its session,",
        "commit and date, the step (ratio or difference of the medians either side) with a 95 %",
        "bootstrap interval, and its p-value. Neither maintained implementation installs in this",
        "project's environment (signal-processing-algorithms requires numpy < 2 and builds gevent",
        "from source; apache-otava pins numpy 2.2 exactly), hence the small implementation, with a",
        "fixed seed: the same history gives the same answer.",
        "",
        "## States",
        "",
        "A metric is in one of four states; a variant shows the worst state of its metrics on the",
        "machine of its latest run, with the change point that set it.",
        "",
        "| state | when (`runner/metric_state.py`) |",
        "|---|---|",
        "| regressed | the last 2 runs both beyond the baseline tolerance (PyTorch HUD's rule), or a "
        f"change point with p ≤ {SIGNIFICANT} the wrong way among the last 10 runs |",
        "| suspicious | the last run alone beyond the tolerance, or a change point the wrong way "
        f"with {SIGNIFICANT} < p ≤ {SUGGESTIVE} |",
        f"| improved | a change point with p ≤ {SIGNIFICANT} the right way among the last 10 runs |",
        "| ok | none of these |",
        "",
        "A drift that never crosses the tolerance still moves the series' level: it is found as",
        "a change point (tests/test_change_points.py: 2 % a night for 7 nights, every gate",
        "passing, is *regressed*).",
        "",
        "## Measured false alarms and sensitivity",
        "",
        "Nothing was timed for this page. The noise is the suite's own session-to-session",
        f"scatter, from {described}: every variant measured in more than one session of one",
        "commit on one machine gives its residuals around its own mean (a series never spans",
        "two commits, so a change of the code is not taken for noise); synthetic series draw",
        "from those residuals with random signs (so the series are exchangeable: drifts of the",
        "machine between nights are not in them). Sessions of one commit in one database ran",
        "one after another on one day, so the scatter between real nights (other neighbours,",
        "another host of the same CPU model) is likely larger. Pool sizes: "
        + ", ".join(f"{kind} {len(pools[kind])} residuals from {counts[kind]} series"
                    for kind in sorted(pools)) + ".",
        f"Residual spread: speed-up {np.std(speed):.3f} (log, ≈ "
        f"{np.expm1(np.std(speed)):.1%} a night), p50 latency "
        f"{np.std(pools.get('p50 latency', np.zeros(1))):.3f} (log: the absolute latency of a "
        "shared machine is what the paired speed-up is made to avoid), accuracy "
        f"{np.std(accuracy) if len(accuracy) else float('nan'):.4f}.",
        "",
    ]
    fa_speed = false_alarms(speed, trials, rng)
    fa_acc = false_alarms(accuracy, trials // 4, rng) if len(accuracy) else float("nan")
    fa_low, fa_high = wilson(fa_speed, trials)
    lines += [
        f"**False alarms** (a series of {FLAT} unchanged runs with any change point at "
        f"p ≤ {SIGNIFICANT}): speed-up **{fa_speed:.1%}** of {trials} series (95 % interval "
        f"{fa_low:.1%}–{fa_high:.1%}); accuracy **{fa_acc:.1%}** of {trials // 4}. Target ≤ 1 %.",
        "",
        f"**Detection** after {BEFORE} unchanged runs: share of series with a change point at "
        f"p ≤ {SIGNIFICANT} within one run of the step, in its direction, after N runs with it "
        f"({trials // 4} series each):",
        "",
        "| step | N=1 | N=2 | N=3 | N=4 | N=5 |",
        "|---|---|---|---|---|---|",
    ]
    smallest = None
    for step in (0.05, 0.10, 0.15, 0.20, 0.30):
        shares = [detected(speed, np.log(1 - step), n, trials // 4, rng) for n in range(1, 6)]
        lines.append(f"| speed-up −{step:.0%} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
        if smallest is None and shares[-1] >= 0.95:
            smallest = step
    accuracy_runs = None
    if len(accuracy):
        shares = [detected(accuracy, -0.005, n, trials // 4, rng) for n in range(1, 6)]
        lines.append("| accuracy −0.5 pt | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
        accuracy_runs = next((n for n, s in enumerate(shares, 1) if s >= 0.95), None)
    lines += [
        "",
        "Smallest of these speed steps found with ≥ 95 % probability within 5 runs: "
        + (f"**{smallest:.0%}**" if smallest else "**more than 30 %**")
        + " (target: 5 %). A 0.5 pt accuracy step: "
        + (f"**{accuracy_runs} runs**" if accuracy_runs else "**not within 5 runs**")
        + " (target: 3). A change point needs "
        f"{MIN_SIZE} runs after it, so with N = 1 only a split one run early counts (that column",
        "is false alarms near the end of the series): one run beyond the tolerance is",
        "*suspicious* by the tolerance rule instead.",
        "",
    ]
    engines = by_engine(series["speed-up"])
    lines += [
        "The pooled speed-up noise mixes engines that differ a lot. Per engine (each series is",
        "tested with its own engine's noise; the engine is known in advance, so this grouping",
        f"does not flatter the quiet ones), {trials // 8} series each:",
        "",
        "| engine | series | spread a night | false alarms | −5 % found by N=5 | −10 % by N=5 "
        "| −20 % by N=5 |",
        "|---|---|---|---|---|---|---|",
    ]
    counted = defaultdict(int)
    for variant, _ in series["speed-up"]:
        counted[variant.rsplit("/", 1)[-1]] += 1
    quiet_enough = []
    for engine, pool in engines.items():
        found = [detected(pool, np.log(1 - step), 5, trials // 8, rng) for step in (0.05, 0.10, 0.20)]
        alarms = false_alarms(pool, trials // 8, rng)
        lines.append(f"| {engine} | {counted[engine]} | {np.expm1(np.std(pool)):.1%} | {alarms:.1%} | "
                     + " | ".join(f"{share:.0%}" for share in found) + " |")
        if found[0] >= 0.95:
            quiet_enough.append(engine)
    lines += [
        "",
        "A 5 % step within 5 runs with ≥ 95 % probability: "
        + (", ".join(f"`{engine}`" for engine in quiet_enough) if quiet_enough else "no engine")
        + ".",
        "",
        "What this means: the speed-up of one nightly session scatters between sessions on this shared",
        "machine by more than a 5 % step on most engines: the history finds such a step there",
        "only over more nights than 5 (or not at all among this noise), while `compbench",
        "compare` and `compbench bisect` (both sides timed interleaved in one job) resolve a",
        "few percent."
        + (" The accuracy of a variant on one machine does not move between sessions of "
           "unchanged code in these databases (a constant series), so a 0.5 pt step is limited "
           "only by the permutation test's resolution: with two runs after it, the chance that a "
           "permutation puts the two changed runs together at an end is about 1 %, so it needs a "
           "third." if len(accuracy) and not np.std(accuracy) else ""),
        "More sessions in the history databases make this page's pools (and its numbers)",
        "more representative: regenerate it with `python scripts/change_point_sensitivity.py",
        "HISTORY.sqlite ... --out docs/concepts/change-points.md`.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("histories", nargs="+", metavar="HISTORY.sqlite",
                        help="history databases of repeated sessions of unchanged code")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    text = page(args.histories, args.trials)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
