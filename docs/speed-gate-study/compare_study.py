"""How often ``compbench compare`` cries wolf, and how small a real slowdown it sees.

The baseline gate compares with a value another session recorded, so its tolerance has to
cover how far a new process moves a speed-up (``sessions.py``). ``compare`` times both sides in
the same job, round by round, so it can afford a tighter one — if the two worker processes
really measure the same thing. This runs the real command's code path (``compare_results``:
two worker processes, ABBA rounds measured inside the workers) repeatedly:

- identical: this checkout against itself over variants of every engine and size — every
  regression is a false alarm;
- slowed: this checkout (the head) against a base whose torch engine runs the convolutions in
  channels-last (oneDNN's blocked kernels) — a copy of this checkout with that one change, the
  same model file: the head has lost a real fast path (study.py measured it: −12 % on
  resnet20). onnxruntime's fusions were tried first and move nothing measurable here
  (ConvActivationFusion, ConvAddFusion, LayerNormFusion, … all within ±4 %).

  .venv/bin/python docs/speed-gate-study/compare_study.py --repeats 5 \\
      --out docs/speed-gate-study/compare.json

Nothing else may run meanwhile: it measures speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from compbench.paired_timing import PairingPlan  # noqa: E402
from compbench.settings import REPO_ROOT  # noqa: E402
from runner.compare import Side, compare_results  # noqa: E402

IDENTICAL = ("scrfd_500m_kps/fp32/onnxruntime", "scrfd_500m_kps/int8-ort/onnxruntime-1t",
             "scrfd_500m_kps/fp32/torch", "scrfd_500m_kps/int8-nncf/openvino",
             "resnet20/fp32/onnxruntime", "resnet20/int8-ort/openvino",
             "resnet8/int8-tflite/tflite", "mobilenetv2/int8-tflite/tflite",
             "mobilenetv2/fp32/keras", "vit/fp32/torch")
SLOWED = ("resnet20/fp32/torch",)
TOLERANCES = (0.03, 0.05, 0.075, 0.10)
TORCH_LOAD = "return TorchSession(module, self.threads)"
TORCH_INPUT = "self.module(torch.from_numpy(inputs))"


def channels_last_copy(where: Path) -> Path:
    """This checkout, with the torch eager engine in channels-last: the faster base."""
    base = where / "channels-last"
    shutil.copytree(REPO_ROOT, base, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "reports", ".benchmarks", "__pycache__", ".tox", "*.egg-info"))
    engine = base / "engines" / "torch_eager.py"
    source = engine.read_text()
    for hook in (TORCH_LOAD, TORCH_INPUT):
        if hook not in source:
            raise SystemExit(f"{engine}: {hook!r} not found; update this study's hooks")
    engine.write_text(source.replace(
        TORCH_LOAD, "return TorchSession(module.to(memory_format=torch.channels_last), self.threads)")
        .replace(TORCH_INPUT,
                 "self.module(torch.from_numpy(inputs).contiguous(memory_format=torch.channels_last))"))
    return base


def rows(results) -> list[dict]:
    return [{"variant": r.variant, "verdict": r.verdict, "estimate": r.interval.estimate,
             "low": r.interval.low, "high": r.interval.high, "rounds": r.interval.rounds,
             "notes": r.notes, "problems": r.problems}
            for r in results if r.interval is not None]


def shares(checks: list[dict]) -> dict:
    out = {}
    for t in TOLERANCES:
        flagged = sum(c["high"] < 1 - t for c in checks)
        unsure = sum(c["low"] < 1 - t <= c["high"] for c in checks)
        out[str(t)] = {"checks": len(checks), "regression": flagged, "inconclusive": unsure}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--conditions", default="identical,slowed")
    parser.add_argument("--budget", type=float, default=3.0, help="--speed-budget per variant")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    plan = PairingPlan(budget_s=args.budget)
    head = Side("head", None, sys.executable)
    found: dict[str, list[dict]] = {}
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="compare-study-") as tmp:
        conditions = {"identical": (Side("base", None, sys.executable), IDENTICAL)}
        if "slowed" in args.conditions:
            fast = channels_last_copy(Path(tmp))
            conditions["slowed"] = (Side("base", str(fast), sys.executable), SLOWED)
        for name in args.conditions.split(","):
            base, variants = conditions[name]
            for k in range(args.repeats):
                print(f"{name}: repeat {k + 1}/{args.repeats}", file=sys.stderr)
                found.setdefault(name, []).extend(
                    rows(compare_results(base, head, list(variants), plan, 0.05, log=lambda _: None)))
    summary = {name: {"shares": shares(checks),
                      "by_variant": {v: sorted(round(c["estimate"], 3) for c in checks
                                               if c["variant"] == v)
                                     for v in dict.fromkeys(c["variant"] for c in checks)}}
               for name, checks in found.items()}
    for name, s in summary.items():
        print(name, json.dumps(s["shares"]))
        for v, estimates in s["by_variant"].items():
            print(f"  {v:45s} {estimates}")
    args.out.write_text(json.dumps({"slowed": "base with torch channels-last", "budget_s": args.budget,
                                    "repeats": args.repeats, "seconds": round(time.time() - began),
                                    "summary": summary, "checks": found}, indent=1))


if __name__ == "__main__":
    main()
