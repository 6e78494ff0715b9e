"""A speed-up below its floor is red only when the pair, timed again, is below it too
(``compbench.runner.verdicts.interval_verdict``): a real bench session against a stored speed-up
no engine reaches names both measurements in its one failure."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compbench.runner.baselines import baseline_path
from compbench.settings import REPO_ROOT

pytestmark = pytest.mark.timing   # alone on the machine (Makefile: after the parallel tests)

VARIANT = "resnet20/int8-ort/onnxruntime-1t"


def test_a_real_slowdown_is_red_with_the_re_measurement_that_confirms_it(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    stored = json.loads(baseline_path("default").read_text())
    entry = stored["variants"][VARIANT]
    raised = 0
    for values in [entry.get("shared", {}), *entry.get("by_hardware", {}).values()]:
        if "speedup" in values:
            values["speedup"]["value"] = round(values["speedup"]["value"] * 10, 4)
            raised += 1
    assert raised, f"{VARIANT} has no stored speed-up to raise"
    (tmp_path / "default.json").write_text(json.dumps(stored))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_speed.py", "-q", "-p", "no:randomly",
         "-k", f"{VARIANT} or resnet20/fp32/onnxruntime-1t", f"--baselines-dir={tmp_path}",
         f"--report-dir={tmp_path / 'reports'}", f"--history={tmp_path / 'history.sqlite'}",
         f"--benchmark-storage={tmp_path / 'benchmarks'}", "--speed-budget=0.5"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "1 failed, 1 passed" in output, output[-3000:]
    line = next(line for line in output.splitlines() if line.startswith(f"REGRESSION {VARIANT}"))
    assert "an independent re-measurement" in line and "confirms it" in line, line
    assert "Traceback" not in output
