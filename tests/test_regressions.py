"""`compbench regressions`: the red variants of a night, read from its results files."""

from __future__ import annotations

import pytest

from compbench.machine_drift import MachineDrift
from compbench.provenance import provenance
from compbench.runner import results_file
from compbench.runner.accuracy_floor import Floor, FloorVerdict
from compbench.runner.cli import main
from compbench.runner.matrix import VARIANTS
from compbench.runner.regressions import regressed
from compbench.runner.results import Ledger

FP32, INT8, PTQ = "resnet20/fp32/onnxruntime", "resnet20/int8-ort/onnxruntime", "resnet20/int8-ptq/torch"
FLOOR = Floor("resnet20", "top1", 0.99, "MLPerf")


def night(tmp_path, stamp: str, verdicts: dict[str, dict], floors: dict | None = None):
    ledger = Ledger()
    for variant_id, checks in verdicts.items():
        ledger[VARIANTS[variant_id]].verdicts = checks
    for variant_id, (measured, accepted) in (floors or {}).items():
        ledger[VARIANTS[variant_id]].floor = FloorVerdict(variant_id, FLOOR, measured, FP32, 0.81,
                                                          accepted)
    payload = results_file.payload(ledger, {}, MachineDrift(0.01, [0.01], "start"),
                                   provenance("pytest bench"))
    return results_file.write(payload, tmp_path, stamp)


def test_only_regressions_and_unaccepted_floors_are_red(tmp_path):
    path = night(tmp_path, "a", {FP32: {"top1": "pass", "speedup": "inconclusive"},
                                 INT8: {"top1": "regression", "speedup": "stale"}},
                 floors={PTQ: (0.70, None), FP32: (0.70, "known: a reason")})
    assert regressed(results_file.read(path).results) == {INT8: ["top1"], PTQ: ["floor"]}


def test_the_command_prints_ids_of_every_shard_up_to_the_limit(tmp_path, capsys):
    first = night(tmp_path, "a", {INT8: {"speedup": "regression", "top1": "regression"}})
    second = night(tmp_path, "b", {PTQ: {"top1": "regression"}, FP32: {"top1": "pass"}})
    assert main(["regressions", str(first), str(second)]) == 0
    out = capsys.readouterr()
    assert out.out.split() == [INT8, PTQ]
    assert f"{INT8}: speedup, top1" in out.err
    assert main(["regressions", str(first), str(second), "--limit", "1"]) == 0
    out = capsys.readouterr()
    assert out.out.split() == [INT8] and "1 more" in out.err


def test_a_damaged_results_file_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "results-x.json"
    bad.write_text('{"format": "compbench-results", "version": ')
    assert main(["regressions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_the_limit_is_a_positive_count(tmp_path, limit, capsys):
    path = night(tmp_path, "a", {INT8: {"top1": "regression"}})
    with pytest.raises(SystemExit) as stop:
        main(["regressions", str(path), "--limit", limit])
    assert stop.value.code == 2


def make(*args: str, **env: str):
    """The Makefile's target as the nightly's alert job runs it, on this interpreter's venv
    (``-o``: never re-create it)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from compbench.settings import REPO_ROOT

    venv = Path(sys.executable).parent.parent
    return subprocess.run(["make", "-s", "-o", f"{venv}/.installed", f"VENV={venv}", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "GH_TOKEN"} | env)


def test_make_alert_on_a_green_night_bisects_nothing_and_posts_nothing(tmp_path):
    path = night(tmp_path, "a", {INT8: {"top1": "pass"}})
    alerts = tmp_path / "alerts"
    done = make("alert", f"RESULTS={path}", f"ALERTS={alerts}")
    assert done.returncode == 0 and "no variant regressed" in done.stdout, done.stderr
    assert alerts.is_dir() and not list(alerts.iterdir())
    done = make("post-alerts", f"ALERTS={alerts}")
    assert done.returncode == 0 and "no alert" in done.stdout


def test_make_alert_stops_on_a_damaged_results_file_and_posting_needs_a_token(tmp_path):
    bad = tmp_path / "results-x.json"
    bad.write_text("{")
    done = make("alert", f"RESULTS={bad}", f"ALERTS={tmp_path / 'alerts'}")
    assert done.returncode != 0 and str(bad) in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "alerts" / "x.md").write_text("# compbench bisect: x\n")
    done = make("post-alerts", f"ALERTS={tmp_path / 'alerts'}")
    assert done.returncode != 0 and "needs gh and GH_TOKEN" in done.stderr
