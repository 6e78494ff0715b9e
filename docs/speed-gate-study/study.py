"""How often the paired speed gate cries wolf, and how small a real slowdown it sees.

Each condition is a pair of sessions of the *same* artifact, timed with compbench's own
``paired_timing`` and the bench's ``PairingPlan`` defaults, many times over:

- identical: two sessions loaded the bench's way — the true speed-up is 1, every "regression"
  is a false alarm;
- slowed: the candidate with one real fast path of its engine switched off, on the same file:
  onnxruntime without constant folding or without the NCHWc layout transformer
  (``disabled_optimizers``), torch's convolutions in the default (NCHW) memory format instead
  of channels-last (oneDNN's blocked kernels) — not a sleep; the slowdown's size is what the
  pairs measure.

For a tolerance t the gate flags a regression when the whole 95 % interval lies below
baseline × (1 − t), the baseline being the identical pair's median estimate (≈ 1).

Run from the repository root with the project's venv, nothing else running:
  .venv/bin/python docs/speed-gate-study/study.py --trials 60 --out docs/speed-gate-study/results.json
``--pilot-not-counted`` times with the plan before the pilot counted (``pilot_counts=False``),
for a before/after on the same machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from compbench.runner.matrix import get_variant
from compbench.runner.pipeline import VariantPipeline

from compbench import hardware
from compbench.allocator import keep_freed_memory
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.paired_timing import PairingPlan, paired_timing

TOLERANCES = (0.05, 0.075, 0.10, 0.15, 0.20)
Pair = tuple[Callable[[], object], Callable[[], object]]


def _pipeline(variant_id: str) -> VariantPipeline:
    pipeline = VariantPipeline(get_variant(variant_id), Assets(), ArtifactCache())
    pipeline.prepare()
    return pipeline


def onnxruntime_pair(variant_id: str, disabled: tuple[str, ...]) -> Pair:
    pipeline = _pipeline(variant_id)
    inputs, artifact = pipeline.benchmark_input(), pipeline.convert().path
    reference = pipeline.engine.load_with(artifact)
    candidate = pipeline.engine.load_with(artifact, disabled_optimizers=disabled)
    return (lambda: reference.run(inputs)), (lambda: candidate.run(inputs))


def torch_layout_pair(variant_id: str, slowed: bool) -> Pair:
    """Reference: the module in channels-last; candidate: the same, or in the default layout."""
    import torch

    pipeline = _pipeline(variant_id)
    module = pipeline.session.module
    threads = pipeline.engine.threads
    inputs = torch.from_numpy(pipeline.benchmark_input())

    def runner(layout: torch.memory_format):
        model = copy.deepcopy(module).to(memory_format=layout)
        x = inputs.contiguous(memory_format=layout)

        def run() -> None:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                model(x)
        return run
    return (runner(torch.channels_last),
            runner(torch.contiguous_format if slowed else torch.channels_last))


CONDITIONS: dict[str, Callable[[], Pair]] = {
    "identical scrfd/onnxruntime": lambda: onnxruntime_pair("scrfd_500m_kps/fp32/onnxruntime", ()),
    "identical resnet20/torch (channels-last)": lambda: torch_layout_pair("resnet20/fp32/torch", False),
    "onnxruntime no constant folding (scrfd)":
        lambda: onnxruntime_pair("scrfd_500m_kps/fp32/onnxruntime", ("ConstantFolding",)),
    "torch NCHW instead of channels-last (resnet20)":
        lambda: torch_layout_pair("resnet20/fp32/torch", True),
    "torch NCHW instead of channels-last (scrfd)":
        lambda: torch_layout_pair("scrfd_500m_kps/fp32/torch", True),
    "onnxruntime no NCHWc layout (scrfd)":
        lambda: onnxruntime_pair("scrfd_500m_kps/fp32/onnxruntime", ("NchwcTransformer",)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pilot-not-counted", action="store_true",
                        help="the pilot only sizes the measurement (the plan before it counted)")
    args = parser.parse_args()
    keep_freed_memory()  # as the bench does
    plan = PairingPlan(pilot_counts=not args.pilot_not_counted)
    results = {"plan": plan.__dict__, "hardware_class": hardware.current().hardware_class,
               "cpu": hardware.current().describe() or platform.processor(),
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "trials": args.trials, "conditions": {}}
    for name in args.conditions.split(","):
        reference, candidate = CONDITIONS[name]()
        rows = []
        for _ in range(args.trials):
            interval = paired_timing(reference, candidate, plan).interval
            rows.append({"estimate": interval.estimate, "low": interval.low,
                         "high": interval.high, "rounds": interval.rounds})
        results["conditions"][name] = rows
        print(f"{name}: speed-up median {np.median([r['estimate'] for r in rows]):.3f}, width "
              f"median {np.median([r['high'] / r['low'] - 1 for r in rows]):.3f}, rounds "
              f"median {np.median([r['rounds'] for r in rows]):.0f}", flush=True)
    results["summary"] = {str(t): {name: verdicts(rows, t) for name, rows in results["conditions"].items()}
                          for t in TOLERANCES}
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.write_text(json.dumps(results, indent=1))
    for t, table in results["summary"].items():
        print(f"tolerance {t}: " + "; ".join(
            f"{name} {v['regression']:.0%} flagged / {v['inconclusive']:.0%} inconclusive"
            for name, v in table.items()))


def verdicts(rows: list[dict], tolerance: float, baseline: float = 1.0) -> dict[str, float]:
    """Shares of trials the gate would call a regression / inconclusive at this tolerance
    (the true speed-up of an identical pair is 1: the baseline)."""
    floor = baseline * (1 - tolerance)
    return {"regression": sum(r["high"] < floor for r in rows) / len(rows),
            "inconclusive": sum(r["low"] < floor <= r["high"] for r in rows) / len(rows)}


if __name__ == "__main__":
    main()
