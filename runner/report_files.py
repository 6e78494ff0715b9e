"""A run's report as files, markdown and HTML with plots, written one way for a bench session
(``runner/bench_session.py``) and for merged results files (``compbench merge``)."""

from __future__ import annotations

from pathlib import Path

from compbench.runner.history import History, HistoryError
from compbench.runner.html_report import model_section, render_html, write_html_report
from compbench.runner.report import write_report
from compbench.runner.results import Ledger


def write_reports(ledger: Ledger, notes: dict[str, str], title: str, header_lines: list[str],
                  markdown: str, directory: Path, stamp: str,
                  history: History | None = None) -> tuple[Path, Path, str | None]:
    """(markdown file, HTML file, why the history's trends are missing or None). A history
    that cannot be read leaves the HTML without trend plots, not without a report."""
    path = write_report(markdown, directory, stamp)
    models = list(dict.fromkeys(result.variant.model.name for result in ledger.results.values()))
    unread = None
    try:
        sections = [model_section(ledger, model, notes.get(model, ""), history) for model in models]
    except HistoryError as exc:
        unread = str(exc)
        sections = [model_section(ledger, model, notes.get(model, ""), None) for model in models]
    html_path = write_html_report(render_html(title, header_lines, sections), sections,
                                  directory, stamp)
    return path, html_path, unread
