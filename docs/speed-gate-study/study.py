"""How often the paired speed gate cries wolf, and how small a real slowdown it sees.

Two onnxruntime sessions of the *same* artifact are timed as a pair with compbench's own
``paired_timing`` (default settings: >= 15 rounds, interval target 4 %, 3 s budget), many times:

- identical: both sessions ORT_ENABLE_ALL: the true speed-up is 1, every "regression" a false alarm;
- slowed: the candidate with one of onnxruntime's fast paths switched off — weights not
  pre-packed (``session.disable_prepacking``), worker threads that sleep instead of spinning
  between operators (``session.intra_op.allow_spinning=0``), or only the extended graph
  optimisations (no NCHWc layout) — a real slowdown of the engine, not a sleep; its size is
  measured on the same artifact, in the same pairs.

For a tolerance t the gate flags a regression when the whole 95 % interval lies below
baseline × (1 − t). The baseline here is the identical pair's own median estimate (≈ 1).

Run from the repository root with the project's venv, nothing else running:
  .venv/bin/python docs/speed-gate-study/study.py --trials 60 --out docs/speed-gate-study/results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from compbench import hardware
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.paired_timing import paired_timing
from runner.matrix import get_variant
from runner.pipeline import VariantPipeline

# condition → (graph optimisation level, session config entries)
SLOWDOWNS = {
    "identical": (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, {}),
    "no-prepacking": (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, {"session.disable_prepacking": "1"}),
    "no-spinning": (ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                    {"session.intra_op.allow_spinning": "0"}),
    "extended-only": (ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, {}),
}
TOLERANCES = (0.05, 0.10, 0.15, 0.20)


def session(path: Path, condition: str, threads: int):
    level, config = SLOWDOWNS[condition]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = level
    options.log_severity_level = 3
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", default="scrfd_500m_kps/fp32/onnxruntime")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--conditions", default="identical,no-prepacking,no-spinning,extended-only")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    pipeline = VariantPipeline(get_variant(args.variant), Assets(), ArtifactCache())
    pipeline.prepare()
    artifact = pipeline.convert().path
    inputs = pipeline.benchmark_input()
    threads = pipeline.engine.threads
    reference = session(artifact, "identical", threads)
    conditions = {name: session(artifact, name, threads) for name in args.conditions.split(",")}

    results = {"variant": args.variant, "artifact": str(artifact), "threads": threads,
               "hardware_class": hardware.current().hardware_class,
               "cpu": platform.processor() or hardware.current().model_name,
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "trials": args.trials, "conditions": {}}
    for name, candidate in conditions.items():
        rows = []
        for _ in range(args.trials):
            interval = paired_timing(lambda: reference(inputs), lambda c=candidate: c(inputs)).interval
            rows.append({"estimate": interval.estimate, "low": interval.low,
                         "high": interval.high, "rounds": interval.rounds})
        results["conditions"][name] = rows
        estimates = np.array([r["estimate"] for r in rows])
        print(f"{name:10s} speed-up median {np.median(estimates):.3f} "
              f"(trials {len(rows)}, rounds median {np.median([r['rounds'] for r in rows]):.0f})",
              flush=True)
    baseline = float(np.median([r["estimate"] for r in results["conditions"]["identical"]]))
    summary = {}
    for t in TOLERANCES:
        floor = baseline * (1 - t)
        summary[str(t)] = {
            name: {"regression": sum(r["high"] < floor for r in rows) / len(rows),
                   "inconclusive": sum(r["low"] < floor <= r["high"] for r in rows) / len(rows)}
            for name, rows in results["conditions"].items()}
    results["baseline"] = baseline
    results["summary"] = summary
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.write_text(json.dumps(results, indent=1))
    for t, table in summary.items():
        print(f"tolerance {t}: " + ", ".join(
            f"{name} {v['regression']:.0%} flagged / {v['inconclusive']:.0%} inconclusive"
            for name, v in table.items()))


if __name__ == "__main__":
    main()
