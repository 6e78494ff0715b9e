"""One self-contained HTML file per session: the tables, the Pareto and size plots, the trends.

Everything is inline (styles, SVG plots, the few lines of script that sort a table by a clicked
header), so the file opens from a CI artifact or a mail attachment with no network. The tables
are ``compbench.runner.report.model_table`` — the markdown report's own — styled by pandas' Styler: each
gated cell carries its verdict (regression, stale baseline, inconclusive, no baseline) as a
class and a colour. The trend columns come from the history database (``compbench.runner.history``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from compbench.runner import plots
from compbench.runner.baselines import INCONCLUSIVE, NO_BASELINE, PASS, REGRESSION, STALE
from compbench.runner.history import History
from compbench.runner.report import (
    CENSUS_COLUMN,
    FLOOR_COLUMN,
    PAIRED_COLUMN,
    REPORT_SETTING,
    SIZE_COLUMNS,
    metric_columns,
    model_table,
)
from compbench.runner.results import Ledger, VariantResult
from compbench.tasks import declaration
from compbench.writable import not_writable, writable_dir

TREND_RUNS = 10
BELOW_FLOOR, ACCEPTED_BELOW_FLOOR = "below floor", "below floor accepted"
VERDICT_COLOURS = {REGRESSION: "#f4b6b6", STALE: "#f9dc9c", INCONCLUSIVE: "#fff2b3",
                   NO_BASELINE: "#dfe7f5", BELOW_FLOOR: "#e7a8d8", ACCEPTED_BELOW_FLOOR: "#f1d5eb",
                   PASS: ""}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; }
p.meta { font-size: 0.85em; color: #444; max-width: 70em; }
table { border-collapse: collapse; font-size: 0.78em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
.legend span { padding: 1px 6px; margin-right: 6px; font-size: 0.8em; }
div.table { overflow-x: auto; max-width: 100%; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.plots svg { max-width: 100%; height: auto; }
"""
_SORT = """
document.querySelectorAll("table.compbench").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
      var key = function (r) { var t = r.cells[col].innerText.trim(); var n = parseFloat(t);
                               return isNaN(n) ? t : n; };
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        return (typeof x === typeof y ? (x > y) - (x < y) : (typeof x === "number" ? -1 : 1)) * dir; });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


@dataclass
class ModelSection:
    """What the report holds for one model; the PNGs are also written beside the report."""

    model: str
    note: str
    table: str
    plots_svg: list[str] = field(default_factory=list)
    plots_png: dict[str, bytes] = field(default_factory=dict)   # file suffix → PNG


def _verdict_classes(results: list[VariantResult], table: pd.DataFrame) -> pd.DataFrame:
    classes = pd.DataFrame("", index=table.index, columns=table.columns)
    for i, result in enumerate(results):
        task = declaration(result.variant.model.task)
        cells = {column: metric for metric, column in metric_columns(task, result.metrics)}
        cells.update({PAIRED_COLUMN: "speedup", **SIZE_COLUMNS})
        for column, metric in cells.items():
            verdict = result.verdicts.get(metric)
            if column in classes.columns and verdict and verdict != PASS:
                classes.iloc[i, classes.columns.get_loc(column)] = verdict.replace(" ", "-")
        census = [result.verdicts.get(metric) for metric in result.census]
        worst = next((v for v in (REGRESSION, STALE, NO_BASELINE) if v in census), None)
        if worst and CENSUS_COLUMN in classes.columns:   # one cell, its worst number's verdict
            classes.iloc[i, classes.columns.get_loc(CENSUS_COLUMN)] = worst.replace(" ", "-")
        floor = result.floor
        if floor and not floor.valid and FLOOR_COLUMN in classes.columns:
            verdict = ACCEPTED_BELOW_FLOOR if floor.accepted else BELOW_FLOOR
            classes.iloc[i, classes.columns.get_loc(FLOOR_COLUMN)] = verdict.replace(" ", "-")
    return classes


def _trend_columns(results: list[VariantResult], table: pd.DataFrame, history: History | None,
                   main_metric: str, label: str) -> list[str]:
    """Sparklines of p50 and the main metric over the last runs, and the change since the
    previous run; returns the names of the columns that hold markup (not to be escaped)."""
    if history is None:
        return []
    p50, metric, change = [], [], []
    trends = history.trends([r.variant.id for r in results], main_metric, TREND_RUNS)
    for result in results:
        runs = trends[result.variant.id]
        figs = (plots.trend_figure([r.p50_ms for r in runs]),
                plots.trend_figure([r.main_metric for r in runs]))
        p50.append(plots.svg(figs[0]) if figs[0] else "–")
        metric.append(plots.svg(figs[1]) if figs[1] else "–")
        if len(runs) >= 2:
            before, now = runs[-2], runs[-1]
            parts = []
            if before.main_metric is not None and now.main_metric is not None:
                parts.append(f"{label} {now.main_metric - before.main_metric:+.4f}")
            if before.p50_ms and now.p50_ms:
                parts.append(f"p50 {now.p50_ms / before.p50_ms - 1:+.1%}")
            change.append(", ".join(parts) or "–")
        else:
            change.append("first run")
    columns = [f"trend p50 (last {TREND_RUNS})", f"trend {label}"]
    table[columns[0]], table[columns[1]] = p50, metric
    table["since previous run"] = change
    return columns


def model_section(ledger: Ledger, model: str, note: str, history: History | None) -> ModelSection:
    results = [r for r in ledger.results.values() if r.variant.model.name == model]
    table = model_table(ledger, model)
    classes = _verdict_classes(results, table)
    task = declaration(results[0].variant.model.task)
    markup = _trend_columns(results, table, history, task.main_metric,
                            task.metric(task.main_metric).label)
    classes = classes.reindex(columns=table.columns, fill_value="")
    plain = [c for c in table.columns if c not in markup]
    styler = (table.style.hide(axis="index").format(escape="html", subset=plain)
              .set_td_classes(classes).set_table_attributes('class="compbench"')
              .set_table_styles([{"selector": f"td.{v.replace(' ', '-')}",
                                  "props": [("background-color", colour)]}
                                 for v, colour in VERDICT_COLOURS.items() if colour]))
    section = ModelSection(model, note, styler.to_html())
    for suffix, fig in (("pareto", plots.pareto_figure(model, results)),
                        ("size", plots.size_figure(model, results))):
        if fig is not None:
            section.plots_png[suffix] = plots.png(fig)
            section.plots_svg.append(plots.svg(fig))
    return section


def render_html(title: str, header_lines: list[str], sections: list[ModelSection]) -> str:
    legend = "".join(f'<span style="background:{c}">{html.escape(v)}</span>'
                     for v, c in VERDICT_COLOURS.items() if c)
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             *(f'<p class="meta">{html.escape(line)}</p>' for line in header_lines),
             f'<p class="legend">Gate verdicts: {legend} (a cell without colour passed; click a '
             "column header to sort)</p>"]
    for s in sections:
        parts += [f'<h2 id="{html.escape(s.model)}">{html.escape(s.model)}</h2>',
                  f'<p class="meta">{html.escape(s.note)}</p>',
                  f'<div class="table">{s.table}</div>',
                  '<div class="plots">', *s.plots_svg, "</div>"]
    parts.append(f"<script>{_SORT}</script></body></html>")
    return "\n".join(parts) + "\n"


def write_html_report(page: str, sections: list[ModelSection], directory: Path,
                      stamp: str) -> Path:
    """``report-<stamp>.html``, ``latest.html`` and each plot as ``<stamp>-<model>-<kind>.png``
    (and ``latest-<model>-<kind>.png``) beside them."""
    writable_dir(directory, "report folder", REPORT_SETTING)
    path = directory / f"report-{stamp}.html"
    files: list[tuple[Path, bytes]] = [(path, page.encode()), (directory / "latest.html", page.encode())]
    for section in sections:
        for kind, data in section.plots_png.items():
            files += [(directory / f"{prefix}-{section.model}-{kind}.png", data)
                      for prefix in (stamp, "latest")]
    for target, data in files:
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise not_writable("HTML report file", target, exc, REPORT_SETTING) from None
    return path
