"""The documentation site builds strictly, and the README stays a page a newcomer reads.

The site is built for real (MkDocs with the Material theme, ``mkdocs.yml``): a broken link, a
missing anchor or a page left out of the nav is a warning, and ``--strict`` turns it into a
failed build. Two tiny sites built with the same configuration show that those checks are on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.settings import REPO_ROOT

pytest.importorskip("mkdocs", reason="the documentation site needs the dev extra "
                                     "(pip install -e '.[dev]' -c constraints/known-good.txt)")
yaml = pytest.importorskip("yaml")

README = REPO_ROOT / "README.md"
README_LIMIT = 15_000          # bytes: a page read in five minutes
LINE_LIMIT = 100               # characters: a terminal's width, code blocks and tables included
SETUP_COMMANDS = ["make bench", "make test"]   # what users and CI run; the README holds exactly these
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(config), "--site-dir", str(site)], capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                          timeout=300)


def test_the_site_builds_strictly_with_its_generated_reference(tmp_path):
    built = _build(REPO_ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    cli = (tmp_path / "site" / "reference" / "cli.html").read_text(encoding="utf-8")
    from compbench.runner.cli import build_parser

    commands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for name in commands.choices:
        assert f"compbench {name}" in cli, name
    options = (tmp_path / "site" / "reference" / "pytest-options.html").read_text(encoding="utf-8")
    for option in ("--update-baselines", "--engine-family", "--speed-budget", "--assets", "--shard"):
        assert option in options
    assert (tmp_path / "site" / "results.html").exists()


def _tiny_site(tmp_path: Path, index: str, extra_page: bool) -> Path:
    """A two-page site with mkdocs.yml's own theme, extensions and validation."""
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(index, encoding="utf-8")
    (docs / "other.md").write_text("# Other\n\n## A section\n", encoding="utf-8")
    if extra_page:
        (docs / "orphan.md").write_text("# Not in the nav\n", encoding="utf-8")
    config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}, {"Other": "other.md"}])
    config.pop("hooks", None)
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("index, extra_page, expected", [
    ("# Home\n\n[gone](missing.md)\n", False, "missing.md"),
    ("# Home\n\n[no anchor](other.md#no-such-section)\n", False, "no-such-section"),
    ("# Home\n\n[fine](other.md#a-section)\n", True, "orphan.md"),
], ids=["broken link", "missing anchor", "page not in nav"])
def test_the_configuration_fails_the_build_on(tmp_path, index, extra_page, expected):
    built = _build(_tiny_site(tmp_path, index, extra_page), tmp_path / "site")
    assert built.returncode != 0
    assert expected in built.stderr


def _outside_code(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def test_the_readme_is_short_and_fits_a_terminal():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= README_LIMIT
    wide = [(n, len(line)) for n, line in enumerate(text.splitlines(), 1) if len(line) > LINE_LIMIT]
    assert not wide, f"README.md lines wider than {LINE_LIMIT} characters (line, width): {wide}"


def test_the_readme_holds_exactly_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    block = setup.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == SETUP_COMMANDS


def test_every_relative_link_of_the_readme_resolves():
    targets = [t for line in _outside_code(README.read_text(encoding="utf-8"))
               for t in LINK.findall(line) if not re.match(r"^[a-z]+:", t)]
    assert targets, "no relative link found: the pattern no longer matches the README's links"
    missing = [t for t in targets if not (REPO_ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_the_readme_commands_exist():
    """Every `make` target, `compbench` subcommand and compbench pytest option the README shows
    is one the Makefile, the CLI's parser and the plugin declare."""
    from _pytest.config.argparsing import Parser

    from compbench import pytest_assets
    from compbench.runner import pytest_plugin
    from compbench.runner.cli import build_parser

    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    lines = [line.split("#", 1)[0].split() for block in blocks for line in block.splitlines()]
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))
    commands = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    parser = Parser(_ispytest=True)
    for plugin in (pytest_assets, pytest_plugin):
        plugin.pytest_addoption(parser)
    options = {name for o in parser.getgroup("compbench").options for name in o.names()}
    checked = 0
    for words in filter(None, lines):
        if words[0] == "make":
            assert words[1] in targets, f"make {words[1]}: no such Makefile target"
        elif words[0].endswith("/compbench"):
            assert words[1] in commands.choices, f"compbench {words[1]}: no such subcommand"
        elif words[0].endswith("/pytest"):
            for word in words:
                if word.startswith("--") and not word.startswith("--benchmark-"):
                    assert word.split("=")[0] in options, f"pytest {word}: no such option"
        else:
            continue
        checked += 1
    assert checked >= 10


def test_an_emulation_report_left_in_docs_joins_the_studies(tmp_path):
    """``compbench emulation-check`` reports are listed by the hook, not typed into the nav."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generated_reference", REPO_ROOT / "docs" / "hooks" / "generated_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    for name in ("emulation-check-x86_64-avx2.md", "emulation-check-x86_64-sse42.md"):
        (tmp_path / name).write_text("# A report\n", encoding="utf-8")
    nav = [{"Home": "index.md"},
           {"Studies": [{"Emulated AVX2": "emulation-check-x86_64-avx2.md"}]}]
    config = hook.on_config({"nav": nav, "docs_dir": str(tmp_path)})
    assert config["nav"][1]["Studies"] == [{"Emulated AVX2": "emulation-check-x86_64-avx2.md"},
                                           "emulation-check-x86_64-sse42.md"]
