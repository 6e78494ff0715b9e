"""Who/what/where produced a number: stamped into every baseline value and every report."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess

from compbench import hardware
from compbench.dependencies import installed_version, normalize_name
from compbench.extras import extras_of_distributions
from compbench.settings import REPO_ROOT


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of compbench's direct dependencies (base and every extra) that are installed."""
    try:
        from packaging.requirements import Requirement

        names = {normalize_name(Requirement(line).name)
                 for line in importlib.metadata.requires("compbench") or []}
    except importlib.metadata.PackageNotFoundError:
        names = set(extras_of_distributions())
    names.discard("compbench")
    return {name: found for name in sorted(names) if (found := installed_version(name))}


def provenance(command: str | None = None) -> dict:
    machine = hardware.current()
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": {**machine.as_dict(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "packages": package_versions(),
    }
    if command:
        record["command"] = command
    return record
