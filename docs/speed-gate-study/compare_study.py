"""How often ``compbench compare`` cries wolf, and how small a real slowdown it sees.

The baseline gate compares with a value another session recorded, so its tolerance has to
cover how far a new process moves a speed-up (``sessions.py``). ``compare`` times both sides in
the same job, round by round, so it can afford a tighter one — if the two worker processes
really measure the same thing. This runs the real command's code path (``compare_results``:
two worker processes, ABBA rounds measured inside the workers) repeatedly:

- identical: this checkout against itself over variants of every engine and size — every
  regression is a false alarm;
- a real lost fast path (``SLOWDOWNS``), one engine file changed in a copy of this checkout,
  the same model file: ``slowed`` — the base runs torch's convolutions in channels-last
  (oneDNN's blocked kernels), the head has lost that (study.py measured it: −12 % on resnet20);
  ``no-spinning`` — the head's onnxruntime threads sleep instead of spinning between operators.
  onnxruntime's fusions were tried first and move nothing measurable here
  (ConvActivationFusion, ConvAddFusion, LayerNormFusion, … all within ±4 %).

  .venv/bin/python docs/speed-gate-study/compare_study.py --repeats 5 \\
      --conditions identical,slowed,no-spinning --out docs/speed-gate-study/compare.json

Nothing else may run meanwhile: it measures speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from compbench.runner.compare import Side, compare_plan, compare_results  # noqa: E402

from compbench.settings import REPO_ROOT  # noqa: E402

IDENTICAL = ("scrfd_500m_kps/fp32/onnxruntime", "scrfd_500m_kps/int8-ort/onnxruntime-1t",
             "scrfd_500m_kps/fp32/torch", "scrfd_500m_kps/int8-nncf/openvino",
             "resnet20/fp32/onnxruntime", "resnet20/int8-ort/openvino",
             "resnet8/int8-tflite/tflite", "mobilenetv2/int8-tflite/tflite",
             "mobilenetv2/fp32/keras", "vit/fp32/torch")
TOLERANCES = (0.03, 0.05, 0.075, 0.10)


@dataclass(frozen=True)
class Slowdown:
    """A real lost fast path: one engine file of a copy of this checkout changed, the same
    model file. ``slowed_side`` says which side the copy is (the other is this checkout)."""

    variants: tuple[str, ...]
    engine_file: str
    replacements: tuple[tuple[str, str], ...]
    slowed_side: str          # "head": the copy is slower; "base": the copy is the faster base
    what: str


SLOWDOWNS = {
    # the base runs torch's convolutions in channels-last (oneDNN's blocked kernels): the head,
    # this checkout, has lost that path (study.py measured −12 % on resnet20)
    "slowed": Slowdown(
        ("resnet20/fp32/torch",), "engines/torch_eager.py",
        (("return TorchSession(module, self.threads)",
          "return TorchSession(module.to(memory_format=torch.channels_last), self.threads)"),
         ("self.module(torch.from_numpy(inputs))",
          "self.module(torch.from_numpy(inputs).contiguous(memory_format=torch.channels_last))")),
        "base", "base with torch channels-last"),
    # the head's onnxruntime sessions no longer spin their intra-op threads while waiting for
    # work: every parallel operator wakes a sleeping thread
    "no-spinning": Slowdown(
        ("scrfd_500m_kps/fp32/onnxruntime",), "engines/onnxruntime_cpu.py",
        (('entries = {"session.force_spinning_stop": "1", ',
          'entries = {"session.force_spinning_stop": "1", "session.intra_op.allow_spinning": "0", '),),
        "head", "head with onnxruntime intra-op spinning off"),
}


def modified_copy(where: Path, name: str, slowdown: Slowdown) -> Path:
    """This checkout with ``slowdown``'s replacements applied to its engine file."""
    copy = where / name
    shutil.copytree(REPO_ROOT, copy, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "reports", ".benchmarks", "__pycache__", ".tox", "*.egg-info"))
    engine = copy / slowdown.engine_file
    source = engine.read_text()
    for old, new in slowdown.replacements:
        if old not in source:
            raise SystemExit(f"{engine}: {old!r} not found; update this study's hooks")
        source = source.replace(old, new)
    engine.write_text(source)
    return copy


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
    plan = compare_plan(args.budget)
    head = Side("head", None, sys.executable)
    found: dict[str, list[dict]] = {}
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="compare-study-") as tmp:
        conditions = {"identical": (Side("base", None, sys.executable), head, IDENTICAL)}
        for name, slowdown in SLOWDOWNS.items():
            if name in args.conditions.split(","):
                copy = str(modified_copy(Path(tmp), name, slowdown))
                conditions[name] = (
                    (Side("base", copy, sys.executable), head, slowdown.variants)
                    if slowdown.slowed_side == "base" else
                    (Side("base", None, sys.executable), Side("head", copy, sys.executable),
                     slowdown.variants))
        for name in args.conditions.split(","):
            base, head_side, variants = conditions[name]
            for k in range(args.repeats):
                print(f"{name}: repeat {k + 1}/{args.repeats}", file=sys.stderr)
                found.setdefault(name, []).extend(rows(compare_results(
                    base, head_side, list(variants), plan, 0.05, log=lambda _: None)))
    summary = {name: {"shares": shares(checks),
                      "by_variant": {v: sorted(round(c["estimate"], 3) for c in checks
                                               if c["variant"] == v)
                                     for v in dict.fromkeys(c["variant"] for c in checks)}}
               for name, checks in found.items()}
    for name, s in summary.items():
        print(name, json.dumps(s["shares"]))
        for v, estimates in s["by_variant"].items():
            print(f"  {v:45s} {estimates}")
    what = {name: SLOWDOWNS[name].what for name in found if name in SLOWDOWNS}
    args.out.write_text(json.dumps({"slowdowns": what, "plan": plan.__dict__,
                                    "repeats": args.repeats, "seconds": round(time.time() - began),
                                    "summary": summary, "checks": found}, indent=1))


if __name__ == "__main__":
    main()
