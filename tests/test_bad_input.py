"""Bad input ends in one clear message, and baselines change only when asked to."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from compbench.errors import NonFiniteOutput
from compbench.settings import REPO_ROOT
from compbench.tasks.base import checked

VARIANT = "scrfd_500m_kps/fp32/torch"


def test_nan_outputs_stop_evaluation_naming_the_variant():
    run = checked(lambda x: [np.ones(3), np.array([0.5, np.nan])], "m/c/e")
    with pytest.raises(NonFiniteOutput) as info:
        run(np.zeros(1))
    assert "m/c/e: output 1 contains NaN" in str(info.value)


def test_nan_from_a_real_broken_model(asset_file, assets):
    from compbench.tasks.widerface import WiderFaceTask
    from models.scrfd.network import torch_runner
    from models.scrfd.weights import load_scrfd_500m_kps

    model = load_scrfd_500m_kps(asset_file("scrfd/SCRFD_500M_KPS.pth"))
    with torch.no_grad():
        model.backbone.stem[0][0].weight[0, 0, 0, 0] = float("nan")
    task = WiderFaceTask(assets)
    task.images = task.images[:1]
    with pytest.raises(NonFiniteOutput, match="broken-variant"):
        task.evaluate(torch_runner(model), "broken-variant")


def run_bench(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_size.py", "-q", "-k", VARIANT,
         "--baselines-dir", str(tmp_path), "--report-dir", str(tmp_path / "reports"), *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_baselines_are_written_only_with_the_flag(tmp_path, asset_file):
    asset_file("scrfd/SCRFD_500M_KPS.pth")
    baseline = tmp_path / "default.json"

    gated = run_bench(tmp_path)
    assert gated.returncode == 1, gated.stdout
    assert "no baseline for 'size_bytes'" in gated.stdout
    assert not baseline.exists()

    recorded = run_bench(tmp_path, "--update-baselines")
    assert recorded.returncode == 0, recorded.stdout
    assert "baselines updated" in recorded.stdout and "(new)" in recorded.stdout
    data = json.loads(baseline.read_text())
    assert data["variants"][VARIANT]["size_bytes"] > 100_000
    assert {"date", "git_commit", "machine", "packages"} <= set(data["provenance"])

    before = baseline.read_bytes()
    again = run_bench(tmp_path)
    assert again.returncode == 0, again.stdout
    assert baseline.read_bytes() == before


def test_malformed_baseline_is_one_error(tmp_path, asset_file):
    asset_file("scrfd/SCRFD_500M_KPS.pth")
    (tmp_path / "default.json").write_text('{"variants": {')
    result = run_bench(tmp_path)
    assert result.returncode != 0
    assert f"baseline file {tmp_path / 'default.json'} is not valid JSON" in result.stdout
