"""Two sessions at once on one cache, report folder and history (two CI jobs on one runner, a
developer's run beside the nightly): each keeps its own results, report and history session."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from compbench.settings import REPO_ROOT


def test_two_sessions_at_once_lose_nothing(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "bench/test_size.py",
               "-k", "resnet20 and fp32 and onnxruntime-1t", f"--report-dir={reports}",
               f"--history={tmp_path / 'h.sqlite'}", f"--cache-dir={tmp_path / 'cache'}",
               f"--benchmark-storage={tmp_path / 'b'}"]
    runs = [subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0 and "Traceback" not in output, output[-3000:]
    assert len(list(reports.glob("results-*.json"))) == 2
    assert len(list(reports.glob("report-*.md"))) == 2
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2
