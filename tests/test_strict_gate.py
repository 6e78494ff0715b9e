"""CI's strict switches (``.ci/run``): a stale acceptance below the accuracy floor fails under
``--strict-acceptances``; a skip for a missing asset or optional engine, or a speed test that
timed nothing, fails under ``--require-all``; without them both are counted in the summary line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from compbench import hardware
from compbench.runner.baselines import baseline_path
from compbench.settings import REPO_ROOT

MISSING = '''
from dataclasses import replace

import pytest

from compbench.cache import ArtifactCache
from compbench.runner.matrix import get_variant
from compbench.runner.pytest_plugin import pipeline_of


def test_a_row_whose_package_is_missing(pytestconfig, assets, tmp_path):
    variant = replace(get_variant("resnet20/fp32/onnxruntime-1t"),
                      requires=("compbench-absent-distribution",))
    pipeline_of(pytestconfig, variant, assets, ArtifactCache(tmp_path))


def test_a_unit_test_whose_asset_is_missing(asset_file):
    asset_file("scrfd/SCRFD_500M_KPS.pth")


def test_a_skip_for_another_reason():
    pytest.skip("not on this platform")
'''


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--rootdir", str(REPO_ROOT),
         "-p", "compbench.pytest_assets", "-p", "compbench.runner.pytest_plugin",
         f"--report-dir={tmp_path / 'reports'}", f"--history={tmp_path / 'history.sqlite'}",
         f"--benchmark-storage={tmp_path / 'benchmarks'}", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


def summary_line(done: subprocess.CompletedProcess) -> str:
    return done.stdout.strip().splitlines()[-1]


def test_require_all_fails_a_skip_for_a_missing_engine_or_asset_only(tmp_path):
    tests = tmp_path / "test_missing.py"
    tests.write_text(MISSING)
    empty = tmp_path / "no-assets"
    empty.mkdir()
    lenient = run(tmp_path, str(tests), f"--assets={empty}")
    assert lenient.returncode == 0, lenient.stdout[-3000:]
    assert "3 skipped" in summary_line(lenient)
    strict = run(tmp_path, str(tests), f"--assets={empty}", "--require-all")
    assert strict.returncode == 1, strict.stdout[-3000:]
    assert "2 failed, 1 skipped" in summary_line(strict)
    for missing in ("compbench-absent-distribution", "SCRFD_500M_KPS.pth"):
        assert re.search(rf"would skip, but --require-all requires .*{missing}", strict.stdout)
    assert "not on this platform" not in strict.stdout.split("short test summary")[0]


# -- a real session of one int8 row that meets its floor ------------------------------------
SELECTION = "resnet20 and onnxruntime-1t and (fp32 or int8-ort)"


def test_a_stale_acceptance_and_untimed_speed_are_counted_and_fail_ci(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    here = hardware.current().hardware_class
    data = json.loads(baseline_path("default").read_text())
    data["below_floor_accepted"]["resnet20/int8-ort"] = {here: "accepted for this test"}
    (tmp_path / "default.json").write_text(json.dumps(data, indent=2))
    session = ("bench/test_floor.py", "bench/test_speed.py", "-k", SELECTION,
               f"--baselines-dir={tmp_path}", "--benchmark-disable")

    lenient = run(tmp_path, *session)
    assert lenient.returncode == 0, lenient.stdout[-3000:]
    line = summary_line(lenient)
    for part in ("1 passed", "2 skipped", "1 stale acceptance to remove",
                 "2 speed not gated (--benchmark-disable)"):
        assert part in line, line
    assert re.search(rf"resnet20/int8-ort on {here}: top1 at \d+\.\d\d% of fp32 meets the 99% "
                     rf"floor .*remove it from {tmp_path / 'default.json'} below_floor_accepted",
                     lenient.stdout)

    strict = run(tmp_path, *session, "--strict-acceptances", "--require-all")
    assert strict.returncode == 1, strict.stdout[-3000:]
    assert "3 failed" in summary_line(strict) and "1 stale acceptance to remove" in summary_line(
        strict)
    assert f"STALE ACCEPTANCE resnet20/int8-ort on {here}: top1 at" in strict.stdout
    # both speed tests fail for that reason (pytest's short summary repeats the message, in
    # full only where it runs on CI, so the count of mentions depends on the environment)
    assert len(re.findall(r"^FAILED bench/test_speed\.py::", strict.stdout, re.MULTILINE)) == 2
    assert strict.stdout.count("speed not gated (--benchmark-disable): nothing was timed, and "
                               "--require-all requires it") >= 2


def test_every_value_gated_against_another_class_is_counted_in_the_summary_line(tmp_path,
                                                                                 asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    here = hardware.current().hardware_class
    other = "x86_64-avx2" if here != "x86_64-avx2" else "x86_64-avx512-vnni"
    data = json.loads(baseline_path("default").read_text())
    entry = data["variants"]["resnet20/int8-ort/onnxruntime-1t"]
    values = {metric: record for key, found in entry["by_hardware"].items()
              for metric, record in found.items() if metric != "speedup"}
    entry["by_hardware"] = {other: values}   # this class's own value is gone
    (tmp_path / "default.json").write_text(json.dumps(data, indent=2))
    done = run(tmp_path, "bench/test_accuracy.py", "-k", "resnet20 and onnxruntime-1t and int8-ort",
               f"--baselines-dir={tmp_path}", "--benchmark-disable")
    assert done.returncode in (0, 1), done.stdout[-3000:]   # the wide tolerance may pass or not
    assert "1 value gated against another hardware class's" in summary_line(done), done.stdout[-2000:]
    assert f"resnet20/int8-ort/onnxruntime-1t top1: {other} (nearest)" in done.stdout
