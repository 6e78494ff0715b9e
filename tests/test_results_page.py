"""The documentation's results page is rendered from one run's results file, never typed.

The committed page (``docs/results.md``) must be what ``compbench.runner.results_page`` renders from the
results file committed beside it, so a hand edit, or a change of the report's columns without
rendering the page again, fails here; the command itself renders a real run's file into a
folder and refuses a bad file without touching the page already there.
"""

from __future__ import annotations

import re
import shutil

from compbench.runner import results_file, results_page
from compbench.settings import REPO_ROOT

DOCS = REPO_ROOT / "docs"
COMMITTED = DOCS / results_page.FOLDER_NAME / results_page.COPY_NAME


def test_the_committed_page_is_what_its_results_file_renders():
    found = results_file.read(COMMITTED)
    rendered = results_page.render(found)
    page = (DOCS / results_page.PAGE_NAME).read_text(encoding="utf-8")
    assert page == rendered.markdown, ("docs/results.md is not what its results file renders: "
                                       "run `make results-page` again")
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", page):
        assert (DOCS / image).is_file(), image


def test_one_command_renders_a_run_with_its_machine_and_data(tmp_path, capsys):
    source = tmp_path / "latest-results.json"
    shutil.copy(COMMITTED, source)
    docs = tmp_path / "docs"
    assert results_page.main([str(source), "--docs", str(docs)]) == 0
    page = (docs / results_page.PAGE_NAME).read_text(encoding="utf-8")
    found = results_file.read(source)
    assert f"- **Machine**: {found.machine.describe()}" in page
    models = {r.variant.model.name for r in found.results.values()}
    for model in models:
        assert f"## {model}\n\n**Data**: " in page, model
        assert (docs / results_page.FOLDER_NAME / f"{model}-pareto.png").stat().st_size > 0
    assert (docs / results_page.FOLDER_NAME / results_page.COPY_NAME).read_bytes() == \
        source.read_bytes()
    assert "results page written to" in capsys.readouterr().out


def test_a_bad_results_file_is_one_error_and_leaves_the_page(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / results_page.PAGE_NAME
    page.write_text("# Results\n\nthe previous run\n", encoding="utf-8")
    broken = tmp_path / "results-broken.json"
    broken.write_text(COMMITTED.read_text(encoding="utf-8")[:500], encoding="utf-8")
    assert results_page.main([str(broken), "--docs", str(docs)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("compbench: error: ") and str(broken) in error
    assert "Traceback" not in error
    assert page.read_text(encoding="utf-8") == "# Results\n\nthe previous run\n"
    assert not (docs / results_page.FOLDER_NAME).exists()


def test_two_results_files_are_refused(tmp_path, capsys):
    assert results_page.main([str(COMMITTED), str(COMMITTED), "--docs", str(tmp_path)]) == 2
    assert "pass one results file" in capsys.readouterr().err
    assert not (tmp_path / results_page.PAGE_NAME).exists()
