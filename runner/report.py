"""The comparison tables a release note would show: one per model, rows = variants."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from runner.results import Ledger


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


METRIC_LABELS = {"easy": "AP easy", "medium": "AP medium", "hard": "AP hard", "top1": "top-1"}


def _metric_order(metric: str) -> tuple[int, str]:
    order = list(METRIC_LABELS)
    return (order.index(metric) if metric in order else len(order), metric)


def model_table(ledger: Ledger, model: str) -> pd.DataFrame:
    rows = []
    for result in ledger.results.values():
        variant = result.variant
        if variant.model.name != model:
            continue
        row = {
            "variant": f"{variant.compression}/{variant.engine}",
            "threads": _fmt(result.threads, "d"),
            "latency median (ms)": _fmt(result.latency_median_ms, ".2f"),
            "latency min (ms)": _fmt(result.latency_min_ms, ".2f"),
            f"speed-up vs fp32/{variant.model.reference_engine}": _fmt(ledger.speedup(result), ".2f") + "×"
            if ledger.speedup(result) else "–",
        }
        same_engine = 1.0 if variant.compression == "fp32" else result.paired_speedup
        row["speed-up vs fp32 same engine (paired)"] = (_fmt(same_engine, ".2f") + "×"
                                                        if same_engine else "–")
        metrics = sorted(result.metrics, key=_metric_order)  # cached results come key-sorted
        for metric in metrics:
            row[METRIC_LABELS.get(metric, metric)] = _fmt(result.metrics[metric], ".4f")
        if metrics:
            deltas = [result.baseline_deltas.get(m) for m in metrics]
            row["Δ vs baseline"] = " / ".join("new" if d is None else f"{d:+.4f}" for d in deltas)
        row["baseline"] = _basis(result.baseline_basis)
        row["size"] = _fmt_size(result.size_bytes)
        row["size (gzip)"] = _fmt_size(result.gzip_size_bytes)
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


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
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"report-{stamp}.md"
    path.write_text(markdown, encoding="utf-8")
    (directory / "latest.md").write_text(markdown, encoding="utf-8")
    return path
