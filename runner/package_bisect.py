"""``compbench bisect --package NAME==A..B --select ID``: the first release of a dependency that
regressed a variant, as ``compbench bisect`` finds the first commit.

The releases the package index offers after A up to B are the range (pre-releases left out).
Each release gets an overlay: a folder with that release alone (``pip install --no-deps
--target``), put first on the worker's path, so everything else is this environment's own and
the only difference between two workers is the package under test. Overlays are kept in the
artifact cache folder by name and version: a second bisection over the same releases installs
nothing. Every probe first checks that its worker really imports the release it names. The
halving, the re-measurement of an inconclusive probe and the verdicts are ``compbench.runner.bisect``'s,
on the same statistics as ``compbench compare``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from compbench.machine_drift import MachineDrift
from compbench.paired_timing import PairingPlan
from compbench.runner.bisect import BisectError, Bisection, Probe, builds_since, cache_entries, halve
from compbench.runner.compare import Side, Worker, checkout
from compbench.settings import resolve_cache_dir

RANGE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<good>[^.\s][^\s]*?)\.\.(?P<bad>\S+)$")
COMPLETE = ".complete"   # written last: an interrupted install is redone, never half-used


@dataclass(frozen=True)
class PackageRange:
    name: str
    good: str
    bad: str

    @classmethod
    def parse(cls, text: str) -> PackageRange:
        match = RANGE.match(text.strip())
        if not match:
            raise BisectError(f"--package {text!r}: write NAME==GOOD..BAD, e.g. "
                              "onnxruntime==1.30.0..1.32.0 (GOOD: a release where the variant was "
                              "fine, BAD: a later one where it regressed)")
        try:
            good, bad = Version(match["good"]), Version(match["bad"])
        except InvalidVersion as exc:
            raise BisectError(f"--package {text!r}: {exc}") from None
        if not good < bad:
            raise BisectError(f"--package {text!r}: GOOD must be an earlier release than BAD")
        return cls(match["name"], match["good"], match["bad"])

    def __str__(self) -> str:
        return f"{self.name}=={self.good}..{self.bad}"


def offered(name: str, python: str = sys.executable) -> list[str]:
    """The releases the package index offers for ``name`` (pip's own index settings)."""
    done = subprocess.run([python, "-m", "pip", "index", "versions", name], capture_output=True,
                          text=True, timeout=300)
    listed = next((line.partition(":")[2] for line in done.stdout.splitlines()
                   if line.startswith("Available versions:")), None)
    if done.returncode != 0 or listed is None:
        raise BisectError(f"the package index lists no releases of {name!r} "
                          f"(pip index versions: {done.stderr.strip()[-300:] or done.stdout.strip()})")
    return [v.strip() for v in listed.split(",") if v.strip()]


def releases(spec: PackageRange, available: list[str]) -> list[str]:
    """The range: releases after GOOD up to BAD, oldest first (the last is BAD)."""
    missing = [v for v in (spec.good, spec.bad) if v not in available]
    if missing:
        raise BisectError(f"--package {spec}: the index offers no {spec.name} "
                          f"{' or '.join(missing)} (it offers {', '.join(available[:12])}...)")
    good, bad = Version(spec.good), Version(spec.bad)
    inside = sorted(Version(v) for v in available
                     if not Version(v).is_prerelease and good < Version(v) <= bad)
    return [str(v) for v in inside]


def overlay(name: str, version: str, root: Path, python: str = sys.executable,
            log: Callable[[str], None] = print) -> Path:
    """The folder holding ``name==version`` alone, installed once."""
    folder = root / f"{name}-{version}"
    if (folder / COMPLETE).is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    log(f"compbench bisect: installing {name}=={version} into {folder}")
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                           str(folder), f"{name}=={version}"], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise BisectError(f"pip could not install {name}=={version}: {done.stderr.strip()[-500:]}")
    (folder / COMPLETE).write_text(f"{name}=={version}\n")
    return folder


def imported_version(name: str, folder: Path, python: str = sys.executable) -> str:
    """What a worker started with ``folder`` first on its path imports as ``name``."""
    code = ("import importlib.metadata as m, sys; sys.path.insert(0, sys.argv[1]); "
            "print(m.version(sys.argv[2]))")
    done = subprocess.run([python, "-c", code, str(folder), name], capture_output=True,
                          text=True, timeout=120)
    return done.stdout.strip()


def bisect_package(spec: PackageRange, variant: str, plan: PairingPlan, tolerance: float,
                   remeasure: int, python: str = sys.executable,
                   log: Callable[[str], None] = print) -> Bisection:
    versions = releases(spec, offered(spec.name, python))
    found = Bisection(f"{spec.name}=={spec.good}", versions, noun="release")
    overlays = resolve_cache_dir() / "package-overlays"

    def worker(label: str, version: str, workdir: Path) -> Worker:
        folder = overlay(spec.name, version, overlays, python, log)
        seen = imported_version(spec.name, folder, python)
        if seen != version:
            raise BisectError(f"a worker with {folder} first on its path imports {spec.name} "
                              f"{seen or '(nothing)'}, not {version}: the overlay does not take")
        side = Side(label, None, python)   # this code (and project) with the release first
        return Worker(side, checkout(side, workdir), workdir / f"{label}-{version}.log",
                      path_first=folder)

    with tempfile.TemporaryDirectory(prefix="compbench-bisect-") as name:
        workdir = Path(name)
        base = worker("GOOD", spec.good, workdir)
        try:
            ready = base.ask(cmd="prepare", variant=variant)
            if "error" in ready:
                raise BisectError(f"{spec.name}=={spec.good} cannot run {variant}: {ready['error']}")
            drift = MachineDrift.begin("when GOOD's worker was ready")

            def probe(index: int) -> str:
                version = versions[index]
                step = Probe(version, f"{spec.name}=={version}")
                head = worker("probe", version, workdir)
                before = cache_entries(resolve_cache_dir())
                try:
                    step.measure(base, head, variant, plan, tolerance, remeasure,
                                 drift.unstable_reason)
                finally:
                    head.close()
                step.builds = builds_since(resolve_cache_dir(), before)
                found.probes[version] = step
                log(f"compbench bisect: probe {found.probe_count} (release {index + 1}/"
                    f"{len(versions)}): {step.describe()}")
                return step.verdict

            outcome = halve(len(versions), probe)
        finally:
            base.close()
    found.bad_is_not_worse = outcome.bad_is_not_worse
    found.suspects = [versions[i] for i in outcome.suspects]
    found.first_bad = None if outcome.first_bad is None else versions[outcome.first_bad]
    return found
