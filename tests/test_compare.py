"""``compbench compare``: two real sides in two worker processes, timed interleaved.

Identical sides must not be called a regression; a head whose onnxruntime engine has a real
fast path switched off (no NCHWc layout transformer, ~40 % slower on resnet20) must be.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.runner.compare import CompareError, Side, checkout
from compbench.settings import REPO_ROOT
from tests.tracked_copy import copy_tracked_files

pytestmark = pytest.mark.timing   # alone on the machine (Makefile: after the parallel tests)

VARIANT = "resnet20/fp32/onnxruntime"   # as a filter, also selects its -1t row
ONE_THREAD = "resnet20/fp32/onnxruntime-1t"   # both sides on one core per round: the least noise
TOLERANCE = 0.05   # compare's default


def compbench_compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compbench.runner.cli", "compare", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


def checkout_copy(target: Path) -> Path:
    """A real second checkout of this code (what a user's other clone is)."""
    return copy_tracked_files(target)


def test_sides_parse_as_ref_folder_and_python():
    assert Side.parse("main", "base") == Side("base", "main", sys.executable)
    assert Side.parse("@/opt/py/bin/python", "head") == Side("head", None, "/opt/py/bin/python")
    assert Side.parse("v1@/x/python", "head").ref == "v1"


def test_an_unknown_ref_is_one_clear_error(tmp_path):
    with pytest.raises(CompareError, match="neither a folder nor a git ref"):
        checkout(Side("base", "no-such-ref-xyz", sys.executable), tmp_path)


def test_identical_sides_report_no_regression(asset_file):
    """Neither slower nor faster: the interval is not entirely below 1 − tolerance (a regression)
    nor entirely above its mirror 1 / (1 − tolerance); the verdict is "ok", or "inconclusive"
    only because noise widened the interval across the floor."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    result = compbench_compare(".", ".", ONE_THREAD)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {ONE_THREAD} "))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    speed, accuracy, size, verdict = cells[3:]
    low, high = (float(x) for x in re.fullmatch(r"[\d.]+× \[([\d.]+), ([\d.]+)\]", speed).groups())
    assert high >= 1 - TOLERANCE and low <= 1 / (1 - TOLERANCE), speed
    assert verdict == "ok" or re.fullmatch(
        rf"inconclusive: speed [\d.]+× \[[\d.]+, [\d.]+\] \(95%, \d+ rounds\) straddles "
        rf"{1 - TOLERANCE:.3g}", verdict)
    assert (accuracy, size) == ("top1 +0.0000", "+0.00%")


def test_an_empty_folder_side_is_one_clear_error(tmp_path):
    """It used to run the installed code (this checkout) on both sides and report "ok"."""
    empty = tmp_path / "not-a-checkout"
    empty.mkdir()
    result = compbench_compare(str(empty), ".", ONE_THREAD)
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr and not result.stdout
    assert result.stderr.splitlines() == [
        f"compbench: error: the base {str(empty)!r} is not a compbench checkout ({empty} has no "
        f"compbench/assets.py, compbench/cache.py, runner/matrix.py, runner/pipeline.py): give "
        f"the root folder of a compbench clone, a git ref of {REPO_ROOT} from after "
        f"compbench.assets and compbench.runner.pipeline existed, or @PYTHON for this checkout with "
        f"another interpreter"]


@pytest.mark.parametrize("broken", ["base", "head"])
def test_a_side_that_ran_no_selected_variant_is_an_error(tmp_path, asset_file, broken):
    """A checkout whose matrix has other ids measures nothing: exit 2 naming it, not 0 (every row
    "not compared": green on nothing) and not 1 (a regression of code that never ran)."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    other = checkout_copy(tmp_path / broken)
    matrix = other / "runner" / "matrix.py"
    matrix.write_text(matrix.read_text() + (
        "\n\ndef get_variant(variant_id: str) -> Variant:   # this test's checkout has no rows\n"
        "    raise UnknownVariant(f'unknown variant id {variant_id!r} in the test checkout')\n"))
    sides = (str(other), ".") if broken == "base" else (".", str(other))
    result = compbench_compare(*sides, ONE_THREAD)
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr and not result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"compbench: error: nothing was compared: none of the 1 selected variant(s) ran on both "
        f"sides: the {broken} ({other}, {sys.executable}) could not run 1 ({ONE_THREAD}: {broken} "
        f"could not run it: UnknownVariant: unknown variant id {ONE_THREAD!r} in the test "
        f"checkout). Select variants both sides have (`compbench variants` in each checkout), or "
        f"fix the side named (its checkout or its Python environment).")


def test_a_real_engine_slowdown_on_the_head_is_flagged(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    head = checkout_copy(tmp_path / "head")
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
    from compbench.runner.compare import speed_findings

    slower = RatioInterval(0.80, 0.78, 0.82, 40)
    assert speed_findings(slower, 0.05)[0].startswith("speed 0.800×")
    problem, note = speed_findings(slower, 0.05, unstable=lambda: "the machine drifted: 2.00x")
    assert problem is None and "the machine drifted: 2.00x: not gated" in note
    asked = []
    assert speed_findings(RatioInterval(1.0, 0.97, 1.03, 40), 0.05,
                          unstable=lambda: asked.append(1)) == (None, None)
    assert not asked   # the calibration is timed only when it could change the verdict
    assert "straddles 0.95" in speed_findings(RatioInterval(0.95, 0.92, 0.98, 40), 0.05)[1]


def test_a_variant_the_base_cannot_run_is_not_compared_and_one_the_head_cannot_run_regresses():
    from compbench.runner.compare import VariantComparison, render

    new = VariantComparison("m/new/e", not_compared="base could not run it: UnknownVariant")
    lost = VariantComparison("m/lost/e", problems=["head could not run it: UnknownVariant"])
    table = render([new, lost], Side("base", "a", "py"), Side("head", "b", "py"), 0.05)
    assert "| m/new/e | – | – | – | – | – | not compared: base could not run it" in table
    assert "| m/lost/e | – | – | – | – | – | REGRESSION: head could not run it" in table
