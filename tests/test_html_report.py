"""The HTML report, its plots and the history database it reads the trends from.

The renderer is fed results built here (the numbers a session would have put in the ledger);
the last test runs a real bench session twice and opens what it wrote.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import pytest

from compbench.paired_statistics import RatioInterval
from compbench.runner.history import History, HistoryError
from compbench.runner.html_report import model_section, render_html, write_html_report
from compbench.runner.matrix import get_variant
from compbench.runner.plots import Point, pareto_front
from compbench.runner.results import LatencySummary, Ledger
from compbench.settings import REPO_ROOT

PROVENANCE = {"date": "2026-12-02T07:00:00+00:00", "git_commit": "abc123",
              "machine": {"hardware_class": "x86_64-avx512-vnni"}, "packages": {"numpy": "2"},
              "command": "pytest bench"}


def ledger_of(hard_ap: float, p50_ms: float) -> Ledger:
    ledger = Ledger()
    for compression, engine, ap, ms in (("fp32", "torch", hard_ap, p50_ms),
                                        ("int8-ort", "onnxruntime", hard_ap - 0.01, p50_ms / 4),
                                        ("pruned", "torch", hard_ap - 0.05, p50_ms * 1.1)):
        result = ledger[get_variant(f"scrfd_500m_kps/{compression}/{engine}")]
        result.metrics = {"easy": ap + 0.2, "medium": ap + 0.1, "hard": ap}
        result.baseline_deltas = {"easy": 0.0, "medium": 0.0, "hard": -0.02}
        result.latency = LatencySummary.of([ms / 1e3] * 20)
        result.size_bytes, result.gzip_size_bytes = 2_600_000, 2_400_000
        result.verdicts = {"hard": "regression" if compression == "pruned" else "pass"}
        if compression != "fp32":
            result.paired_speedup = 1.5
            result.speedup_interval = RatioInterval(1.5, 1.4, 1.6, 30)
    return ledger


def test_the_front_keeps_only_variants_nothing_beats_on_both_axes():
    def p(ms, acc):
        return Point(f"{ms}", "c", "e", ms, acc, None)
    front = pareto_front([p(10, 0.80), p(5, 0.70), p(20, 0.79), p(40, 0.85), p(5, 0.60)])
    assert [(q.latency_ms, q.accuracy) for q in front] == [(5, 0.70), (10, 0.80), (40, 0.85)]
    # one model on two engines: a slower one is not "more accurate" by float noise
    assert len(pareto_front([p(6, 0.613598), p(20, 0.613605)])) == 1


def test_history_keeps_every_session_and_returns_a_variant_oldest_first(tmp_path):
    history = History(tmp_path / "h.sqlite")
    first = history.record(ledger_of(0.60, 40.0), PROVENANCE, "default", "stable")
    second = history.record(ledger_of(0.62, 44.0), PROVENANCE | {"git_commit": "def456"}, "default")
    assert second > first and history.session_count() == 2
    runs = history.runs("scrfd_500m_kps/pruned/torch", "hard")
    assert [r.git_commit for r in runs] == ["abc123", "def456"]
    assert [round(r.main_metric, 4) for r in runs] == [0.55, 0.57]
    assert runs[-1].p50_ms == pytest.approx(48.4) and runs[-1].verdicts == {"hard": "regression"}
    with sqlite3.connect(tmp_path / "h.sqlite") as db:   # a real database, queried as one
        assert db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 2 * 3 * 3


def test_a_file_that_is_not_a_history_database_is_one_clear_error(tmp_path):
    bad = tmp_path / "history.sqlite"
    bad.write_text("not a database, just text " * 100)
    with pytest.raises(HistoryError, match=f"{re.escape(str(bad))} is not a compbench history"):
        History(bad).record(ledger_of(0.6, 40.0), PROVENANCE, "default")
    assert bad.read_text().startswith("not a database")   # left as it was, for the user to look at


def test_the_page_is_self_contained_with_one_pareto_plot_per_model_and_the_verdicts(tmp_path):
    history = History(tmp_path / "h.sqlite")
    for ap, ms in ((0.60, 40.0), (0.61, 42.0), (0.62, 44.0)):
        ledger = ledger_of(ap, ms)
        history.record(ledger, PROVENANCE, "default")
    section = model_section(ledger, "scrfd_500m_kps", "100 mini-set images", history)
    page = render_html("compbench report", ["Machine: test"], [section])
    path = write_html_report(page, [section], tmp_path, "20261202T070000Z")
    text = path.read_text()
    assert (tmp_path / "latest.html").read_text() == text
    # nothing to fetch: no external script, style sheet, image or font
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)=', text)
    assert not re.search(r"url\(\s*['\"]?https?:", text)
    assert text.count("Pareto front") >= 1 and text.count("artifact size (KB)") == 1
    assert len(re.findall(r"scrfd_500m_kps: AP hard against latency", text)) == 1
    assert re.search(r'<td[^>]*class="[^"]*regression[^"]*"[^>]*>0\.5700', text)
    assert "p50 +4.8%" in text and "AP hard +0.0100" in text   # change since the previous run
    assert (tmp_path / "20261202T070000Z-scrfd_500m_kps-pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "latest-scrfd_500m_kps-size.png").exists()


def test_a_real_session_writes_the_html_report_and_grows_the_history(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    select = "resnet20/fp32/onnxruntime or resnet20/int8-ort/onnxruntime"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "bench", "-q", "-k", select,
             f"--report-dir={tmp_path}", f"--history={tmp_path / 'h.sqlite'}",
             "--benchmark-disable-gc", "--speed-budget=1", "--benchmark-storage",
             str(tmp_path / "benchmarks")], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "HTML report with plots:" in done.stdout and "2 session(s)" in done.stdout
    page = (tmp_path / "latest.html").read_text()
    assert len(re.findall(r"resnet20: top-1 against latency", page)) == 1
    assert page.count("<svg") >= 2 + 2 * 2   # Pareto + size, and two sparklines per variant
    assert History(tmp_path / "h.sqlite").session_count() == 2
    # batch throughput is reported, not gated: without --footprint the gate does not pay for it
    results = json.loads(next(tmp_path.glob("results-*.json")).read_text())["results"]
    assert results and not any(r["throughput"] for r in results.values()), results


def test_compbench_history_prints_the_trend_and_the_change_since_the_previous_run(tmp_path):
    db = tmp_path / "h.sqlite"
    for ap, ms in ((0.60, 40.0), (0.61, 42.0)):
        History(db).record(ledger_of(ap, ms), PROVENANCE, "default")
    done = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "history", "pruned", "--history",
                           str(db)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "scrfd_500m_kps/pruned/torch" in line)
    assert "AP hard 0.5600" in row and "+0.0100" in row and "+5.0%" in row
    assert "hard regression" in row and "▁█" in row
    missing = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "history", "--history",
                              str(tmp_path / "none.sqlite")], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 2 and "no history at" in missing.stderr
    assert "Traceback" not in missing.stderr
