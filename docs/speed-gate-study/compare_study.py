"""How often ``compbench compare`` cries wolf, and how small a real slowdown it sees.

The baseline gate compares with a value another session recorded, so its tolerance has to
cover how far a new process moves a speed-up (``sessions.py``). ``compare`` times both sides in
the same job, round by round, so it can afford a tighter one — if the two worker processes
really measure the same thing. This runs the real command's code path (``compare_results``:
two worker processes, ABBA rounds measured inside the workers) repeatedly:

- identical: this checkout against itself over variants of every engine and size — every
  regression is a false alarm;
- slowed: against a copy of this checkout whose onnxruntime engine has one graph optimizer
  switched off (``--disable``, e.g. a fusion) — a real fast path, the same model file.

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
SLOWED = ("resnet20/fp32/onnxruntime", "scrfd_500m_kps/fp32/onnxruntime")
TOLERANCES = (0.03, 0.05, 0.075, 0.10)
ENGINE_HOOK = "disabled_optimizers=list(disabled_optimizers)"


def slowed_copy(disabled: list[str], where: Path) -> Path:
    head = where / "head"
    shutil.copytree(REPO_ROOT, head, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "reports", ".benchmarks", "__pycache__", ".tox", "*.egg-info"))
    engine = head / "engines" / "onnxruntime_cpu.py"
    source = engine.read_text()
    if ENGINE_HOOK not in source:
        raise SystemExit(f"{engine}: {ENGINE_HOOK!r} not found; update this study's hook")
    engine.write_text(source.replace(ENGINE_HOOK, f"disabled_optimizers={disabled!r}"))
    return head


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
    parser.add_argument("--disable", default="ConvActivationFusion",
                        help="comma-separated onnxruntime optimizers the slowed head switches off")
    parser.add_argument("--conditions", default="identical,slowed")
    parser.add_argument("--budget", type=float, default=3.0, help="--speed-budget per variant")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    plan = PairingPlan(budget_s=args.budget)
    here = Side("base", None, sys.executable)
    found: dict[str, list[dict]] = {}
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="compare-study-") as tmp:
        conditions = {"identical": (Side("head", None, sys.executable), IDENTICAL)}
        if "slowed" in args.conditions:
            head = slowed_copy(args.disable.split(","), Path(tmp))
            conditions["slowed"] = (Side("head", str(head), sys.executable), SLOWED)
        for name in args.conditions.split(","):
            side, variants = conditions[name]
            for k in range(args.repeats):
                print(f"{name}: repeat {k + 1}/{args.repeats}", file=sys.stderr)
                found.setdefault(name, []).extend(
                    rows(compare_results(here, side, list(variants), plan, 0.05, log=lambda _: None)))
    summary = {name: {"shares": shares(checks),
                      "by_variant": {v: sorted(round(c["estimate"], 3) for c in checks
                                               if c["variant"] == v)
                                     for v in dict.fromkeys(c["variant"] for c in checks)}}
               for name, checks in found.items()}
    for name, s in summary.items():
        print(name, json.dumps(s["shares"]))
        for v, estimates in s["by_variant"].items():
            print(f"  {v:45s} {estimates}")
    args.out.write_text(json.dumps({"disabled": args.disable, "budget_s": args.budget,
                                    "repeats": args.repeats, "seconds": round(time.time() - began),
                                    "summary": summary, "checks": found}, indent=1))


if __name__ == "__main__":
    main()
