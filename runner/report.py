"""The comparison tables a release note would show: one per model, rows = variants."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from compbench.runner import census
from compbench.runner.results import LatencySummary, Ledger, VariantResult
from compbench.tasks import declaration
from compbench.tasks.base import TaskDeclaration
from compbench.writable import not_writable, writable_dir

REPORT_SETTING = "--report-dir"   # moves every report a session or `compbench merge` writes

PAIRED_COLUMN = "speed-up vs fp32 same engine (paired, 95 % CI)"
FLOOR_COLUMN = "floor (of fp32)"
# the accuracy step's images/s (one thread, data loading included): eval-time predictions
EVAL_RATE_COLUMN = "eval images/s (1 thread)"
SIZE_COLUMNS = {"size": "size_bytes", "size (gzip)": "size_gzip_bytes"}  # column → gated metric
CENSUS_COLUMN = "census"   # what the session executed (runner/census.py), gated exactly


def _fmt_size(size: int | None) -> str:
    if size is None:
        return "–"
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else format(value, spec)


def _basis(bases: dict[str, str]) -> str:
    """The hardware class CPU-dependent values were compared with ("shared" when none are)."""
    specific = sorted({b for b in bases.values() if b != "shared"})
    return " / ".join(specific) if specific else ("shared" if bases else "–")


def metric_columns(task: TaskDeclaration, metrics: dict[str, float]) -> list[tuple[str, str]]:
    """(metric, column) in the task's declared order: cached results come back key-sorted.
    A metric the task does not declare (an old cache entry) is still shown, after them."""
    declared = task.metric_names
    ordered = sorted(metrics, key=lambda m: (declared.index(m) if m in declared else len(declared), m))
    return [(m, task.metric(m).label if m in declared else m) for m in ordered]


def model_table(ledger: Ledger, model: str) -> pd.DataFrame:
    rows = []
    for result in ledger.results.values():
        variant = result.variant
        if variant.model.name != model:
            continue
        task = declaration(variant.model.task)
        row = {
            "variant": f"{variant.compression}/{variant.engine}",
            "threads": _fmt(result.threads, "d"),
            "latency p50 / p90 / p99 (ms)": _percentiles(result.latency),
            "IQR (ms)": _fmt(result.latency and result.latency.iqr_ms, ".2f"),
            "min (ms)": _fmt(result.latency and result.latency.min_ms, ".2f"),
            f"speed-up vs fp32/{variant.model.reference_engine}": _fmt(ledger.speedup(result), ".2f") + "×"
            if ledger.speedup(result) else "–",
        }
        row[PAIRED_COLUMN] = _paired(result)
        columns = metric_columns(task, result.metrics)
        for metric, column in columns:
            row[column] = _fmt(result.metrics[metric], ".4f")
        metrics = [metric for metric, _ in columns]
        if metrics:
            deltas = [result.baseline_deltas.get(m) for m in metrics]
            row["Δ vs baseline"] = " / ".join("new" if d is None else f"{d:+.4f}" for d in deltas)
        row["baseline"] = _basis(result.baseline_basis)
        if variant.compression != "fp32":
            row[FLOOR_COLUMN] = result.floor.label if result.floor else "–"
        row["size"] = _fmt_size(result.size_bytes)
        row["size (gzip)"] = _fmt_size(result.gzip_size_bytes)
        row[CENSUS_COLUMN] = census.describe(result.census)
        row["peak RSS (MB)"] = _fmt(result.footprint.get("peak_rss_mb"), ".0f")
        row["start-up (s)"] = _fmt(result.footprint.get("startup_s"), ".2f")
        row[EVAL_RATE_COLUMN] = _fmt(result.eval_images_per_s, ",.1f")
        if variant.model.eval_batch > 1:
            row["images/s (batch)"] = " / ".join(f"{ips:,.0f} ({batch})" for batch, ips
                                                 in sorted(result.throughput.items())) or "–"
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def _percentiles(latency: LatencySummary | None) -> str:
    if latency is None:
        return "–"
    return f"{latency.p50_ms:.2f} / {latency.p90_ms:.2f} / {latency.p99_ms:.2f}"


def _paired(result: VariantResult) -> str:
    if result.variant.compression == "fp32":
        return "1.00×"
    interval = result.speedup_interval
    if interval is None:
        return "–"
    verdict = " inconclusive" if result.inconclusive else ""
    return f"{interval.estimate:.2f}× [{interval.low:.2f}, {interval.high:.2f}]{verdict}"


def render(ledger: Ledger, data_notes: dict[str, str]) -> str:
    """Markdown for all models seen in the session, each with the data it was measured on."""
    models = dict.fromkeys(r.variant.model.name for r in ledger.results.values())
    sections = []
    for model in models:
        table = model_table(ledger, model)
        note = data_notes.get(model, "")
        sections.append(f"### {model}\n\n{note}\n\n{table.to_markdown(index=False)}\n")
    return "\n".join(sections)


def write_report(markdown: str, directory: Path, stamp: str) -> Path:
    writable_dir(directory, "report folder", REPORT_SETTING)
    path = directory / f"report-{stamp}.md"
    for target in (path, directory / "latest.md"):
        try:
            target.write_text(markdown, encoding="utf-8")
        except OSError as exc:
            raise not_writable("report", target, exc, REPORT_SETTING) from None
    return path
