"""``compbench compare``: two real sides in two worker processes, timed interleaved.

Identical sides must not be called a regression; a head whose onnxruntime engine has a real
fast path switched off (no NCHWc layout transformer, ~40 % slower on resnet20) must be.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from compbench.settings import REPO_ROOT
from runner.compare import CompareError, Side, checkout

VARIANT = "resnet20/fp32/onnxruntime"


def compbench_compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner.cli", "compare", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


def test_sides_parse_as_ref_folder_and_python():
    assert Side.parse("main", "base") == Side("base", "main", sys.executable)
    assert Side.parse("@/opt/py/bin/python", "head") == Side("head", None, "/opt/py/bin/python")
    assert Side.parse("v1@/x/python", "head").ref == "v1"


def test_an_unknown_ref_is_one_clear_error(tmp_path):
    with pytest.raises(CompareError, match="neither a folder nor a git ref"):
        checkout(Side("base", "no-such-ref-xyz", sys.executable), tmp_path)


def test_identical_sides_report_no_regression(asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    result = compbench_compare(".", ".", VARIANT)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {VARIANT} "))
    assert "| ok" in row or "inconclusive" in row
    assert "top1 +0.0000" in row and "+0.00%" in row


def test_a_real_engine_slowdown_on_the_head_is_flagged(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    head = tmp_path / "head"
    shutil.copytree(REPO_ROOT, head, ignore=shutil.ignore_patterns(
        ".venv", ".git", "reports", ".benchmarks", "__pycache__", ".tox", "*.egg-info"))
    engine = head / "engines" / "onnxruntime_cpu.py"
    source = engine.read_text()
    assert "disabled_optimizers=list(disabled_optimizers)" in source
    engine.write_text(source.replace("disabled_optimizers=list(disabled_optimizers)",
                                     'disabled_optimizers=["NchwcTransformer"]'))
    result = compbench_compare(".", str(head), VARIANT)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {VARIANT} "))
    assert "REGRESSION" in row and "entirely below 0.95" in row
    assert "top1 +0.0000" in row   # the same numbers, only slower


def test_a_slower_head_on_a_drifted_machine_is_inconclusive_not_red():
    from compbench.paired_statistics import RatioInterval
    from runner.compare import speed_verdict

    slower = RatioInterval(0.80, 0.78, 0.82, 40)
    assert speed_verdict(slower, 0.05)[0].startswith("speed 0.800×")
    problem, note = speed_verdict(slower, 0.05, unstable=lambda: "the machine drifted: 2.00x")
    assert problem is None and "the machine drifted: 2.00x: not gated" in note
    asked = []
    assert speed_verdict(RatioInterval(1.0, 0.97, 1.03, 40), 0.05,
                         unstable=lambda: asked.append(1)) == (None, None)
    assert not asked   # the calibration is timed only when it could change the verdict
    assert "straddles 0.95" in speed_verdict(RatioInterval(0.95, 0.92, 0.98, 40), 0.05)[1]


def test_a_variant_the_base_cannot_run_is_not_compared_and_one_the_head_cannot_run_regresses():
    from runner.compare import VariantComparison, render

    new = VariantComparison("m/new/e", not_compared="base could not run it: UnknownVariant")
    lost = VariantComparison("m/lost/e", problems=["head could not run it: UnknownVariant"])
    table = render([new, lost], Side("base", "a", "py"), Side("head", "b", "py"), 0.05)
    assert "| m/new/e | – | – | – | – | – | not compared: base could not run it" in table
    assert "| m/lost/e | – | – | – | – | – | REGRESSION: head could not run it" in table
