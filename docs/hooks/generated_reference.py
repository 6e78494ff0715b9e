"""MkDocs hook: the command-line and pytest-option reference pages, generated at every build
from the parsers themselves (``compbench.runner.cli.build_parser`` and the plugins' ``pytest_addoption``),
so that the documentation cannot drift from the code: nobody types these pages. The reports
``compbench emulation-check`` leaves in docs/ join the Studies section by themselves, so that a
new one is neither forgotten in the nav (which fails the strict build) nor typed there."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from mkdocs.structure.files import File

CLI_PAGE = "reference/cli.md"
PYTEST_PAGE = "reference/pytest-options.md"
HOOKS_PAGE = "reference/hooks.md"
WIDTH = 96   # help text wrapped to fit the page's code blocks without a scroll bar
STUDIES = "Studies"
EMULATION_REPORTS = "emulation-check-*.md"


def _listed(nav) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_listed(v) for v in nav.values()))
    return set().union(*(_listed(v) for v in nav or []))


def on_config(config):
    studies = next(item[STUDIES] for item in config["nav"]
                   if isinstance(item, dict) and STUDIES in item)
    listed = _listed(config["nav"])
    for page in sorted(Path(config["docs_dir"]).glob(EMULATION_REPORTS)):
        if page.name not in listed:
            studies.append(page.name)   # titled by its first heading
    return config


def on_files(files, config):
    files.append(File.generated(config, CLI_PAGE, content=cli_page()))
    files.append(File.generated(config, PYTEST_PAGE, content=pytest_page()))
    files.append(File.generated(config, HOOKS_PAGE, content=hooks_page()))
    return files


def hooks_page() -> str:
    """The hooks a project implements, from ``runner/hookspec.py``'s own docstrings."""
    import inspect

    from compbench.runner import hookspec

    lines = ["# Plugin hooks", "",
             "Generated from `runner/hookspec.py` when the site is built.", "",
             inspect.cleandoc(hookspec.__doc__), ""]
    for name, function in inspect.getmembers(hookspec, inspect.isfunction):
        if getattr(function, "compbench_spec", None) is None:
            continue
        lines += [f"## `{name}{inspect.signature(function)}`", "",
                  inspect.cleandoc(function.__doc__ or ""), ""]
    return "\n".join(lines).replace("::\n", ":\n")


def _help(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=WIDTH)
    return parser.format_help().rstrip()


def cli_page() -> str:
    from compbench.evaluation.widerface.cli import _parser as eval_wider_parser
    from compbench.runner.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {choice.dest: choice.help for choice in commands._choices_actions}
    lines = ["# Command line: `compbench`", "",
             "Generated from the command's own parser (`runner/cli.py`) when the site is built.",
             "The same text is `compbench <command> --help`.", "",
             "```text", _help(parser), "```", ""]
    for name, sub in commands.choices.items():
        lines += [f"## `compbench {name}`", "", summaries.get(name) or "", ""]
        if name == "eval-wider":
            lines += ["```text", _help(eval_wider_parser()), "```", ""]
        elif name == "bench":
            lines += ["Runs `pytest bench` with the arguments that follow: see the "
                      "[pytest options](pytest-options.md).", ""]
        else:
            lines += ["```text", _help(sub), "```", ""]
    return "\n".join(lines)


def pytest_page() -> str:
    from _pytest.config.argparsing import Parser
    from compbench.runner import pytest_plugin

    from compbench import pytest_assets
    from compbench.settings import REPO_ROOT

    parser = Parser(_ispytest=True)
    for plugin in (pytest_assets, pytest_plugin):
        plugin.pytest_addoption(parser)
    lines = ["# pytest options", "",
             "compbench's own options of `pytest bench` (and `make bench ARGS=...`), generated "
             "from its plugins' `pytest_addoption` (`runner/pytest_plugin.py`, "
             "`compbench/pytest_assets.py`) when the site is built. pytest-benchmark's and "
             "pytest-xdist's options (`--benchmark-disable`, `--benchmark-compare`, `-n N`) "
             "work as their own documentation says.", ""]
    for option in parser.getgroup("compbench").options:
        attrs = option.attrs()
        default = attrs.get("default")
        if isinstance(default, str) and default.startswith(str(REPO_ROOT)):
            default = default[len(str(REPO_ROOT)) + 1:] or "."
        text = (attrs.get("help") or "").replace("%(default)s", str(default))
        flag = " ".join(option.names())
        metavar = attrs.get("metavar") or ("" if attrs.get("action") else option.dest.upper())
        lines += [f"## `{flag}{' ' + metavar if metavar else ''}`", "", text, ""]
        if default not in (None, False) and "default" not in text:
            lines += [f"Default: `{default}`.", ""]
    return "\n".join(lines)
