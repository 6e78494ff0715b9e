"""One bench session's state and work, behind the thin hooks of ``runner/pytest_plugin.py``.

The plugin's hooks and fixtures only hand pytest's events to this object (as pytest-benchmark's
``plugin.py`` hands them to its ``BenchmarkSession``): which pipelines the session prepared, the
ledger of results, what the report notes, which tests failed, what xdist workers measured on,
the machine-drift calibration. It also does the session's three pieces of work: fill the cache
before the first test, record baselines when the run may become one, and write the report,
results file and history at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from compbench import hardware, isa_emulation
from compbench.allocator import keep_freed_memory
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.engines.registry import ENGINES
from compbench.errors import AssetCorrupt, AssetMissing, CompbenchError, EngineUnavailable
from compbench.hardware import available_cores
from compbench.machine_drift import MachineDrift
from compbench.project import current as current_project
from compbench.provenance import provenance
from compbench.pytest_assets import assets_from_config
from compbench.runner import distributed, results_file
from compbench.runner.baselines import Baselines, baseline_path
from compbench.runner.history import History, HistoryError
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.prebuild import prebuild
from compbench.runner.report import render
from compbench.runner.report_files import write_reports
from compbench.runner.results import Ledger
from compbench.settings import REPO_ROOT, resolve_history_path
from compbench.specs import Variant

FLOOR_TEST = "test_accuracy_floor"
EXIT_UNGATEABLE = 3
FOOTPRINT = "--footprint"   # opt-in: not gated, so not paid for in the gate


def reports_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("--report-dir") or current_project().reports_dir)


def baselines_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("--baselines-dir") or current_project().baselines_dir)


def load_baselines(config: pytest.Config) -> Baselines:
    profile = config.getoption("--profile")
    return Baselines.load(profile, baseline_path(profile, baselines_dir(config)))


def timing_disabled(config: pytest.Config) -> bool:
    """pytest-benchmark's own switches also turn off the paired speed-up timing, and so does an
    emulated hardware class: capped kernels on this CPU are not that class's speed."""
    return bool(config.getoption("benchmark_disable", False)
                or config.getoption("benchmark_skip", False)
                or isa_emulation.target() is not None)


def engine_threads() -> dict[str, int]:
    return {name: config.resolved_threads for name, config in ENGINES.items()}


# An installed compbench has no root conftest.py to register its plugins with; named with -p,
# they are registered once in a checkout too (the root conftest's pytest_plugins then finds them
# registered under the same module names).
BENCH_PLUGINS = ("compbench.pytest_assets", "compbench.runner.pytest_plugin")


# What the checkout's pyproject.toml [tool.pytest.ini_options] gives every session (addopts and
# filterwarnings). Installed, no configuration file lies above the package's bench folder, so
# `compbench bench` passes them itself; tests/test_namespace.py fails when the two disagree.
INSTALLED_DEFAULTS = ("--benchmark-storage=.benchmarks", "--benchmark-autosave",
                      "--benchmark-sort=name", "--benchmark-columns=min,median,iqr,rounds",
                      "--benchmark-max-time=0.5", "--benchmark-min-rounds=10",
                      "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")


def bench_arguments() -> list[str]:
    """What ``compbench bench ARGS`` passes to pytest before ARGS: the plugins, the defaults a
    checkout's configuration file would give, and the bench folder of this checkout or of the
    installed package (compbench.bench)."""
    defaults = () if (REPO_ROOT / "pyproject.toml").is_file() else INSTALLED_DEFAULTS
    return [*(arg for name in BENCH_PLUGINS for arg in ("-p", name)), *defaults,
            str(REPO_ROOT / "bench")]


def invocation(config: pytest.Config) -> str:
    """The command a user typed: ``compbench bench ...`` runs pytest on this checkout's bench/,
    whose absolute path says nothing to another machine (a project outside the checkout
    records its baselines that way)."""
    args = list(config.invocation_params.args)
    prefix = bench_arguments()
    if args[:len(prefix)] == prefix and Path(sys.argv[0]).name == "compbench":
        return " ".join(["compbench", "bench", *args[len(prefix):]])
    return " ".join(["pytest", *args])


def recording_provenance(config: pytest.Config) -> dict:
    return provenance(invocation(config)) | {"engine_threads": engine_threads()}


def may_record(exitstatus: int, failed: list[str], testsfailed: int) -> bool:
    """Whether a session's measurements may become baselines: it ran to its end and every
    failure (if any) was an accuracy floor — a verdict on a recipe measured correctly."""
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return False
    return len(failed) >= testsfailed and all(FLOOR_TEST in nodeid for nodeid in failed)


class BenchSession:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.ledger = Ledger()
        self.pipelines: dict[str, VariantPipeline | Exception] = {}
        self.notes: dict[str, str] = {}            # per model: its data's description
        self.baseline_changes: list[str] = []      # what --update-baselines did, for the summary
        self.failed: list[str] = []                # node ids of the tests that failed or errored
        self.worker_machines: list = []            # xdist: the machine each worker measured on
        self.drift: MachineDrift | None = None

    # -- pipelines -------------------------------------------------------------------------
    def prepare(self, variant: Variant, assets: Assets, cache: ArtifactCache) -> VariantPipeline | Exception:
        """The session's one pipeline of ``variant`` (prepared), or the reason it cannot run."""
        if variant.id not in self.pipelines:
            tasks = {p.variant.model.name: p.task for p in self.pipelines.values()
                     if isinstance(p, VariantPipeline)}
            candidate = VariantPipeline(variant, assets, cache, tasks.get(variant.model.name))
            try:
                candidate.prepare()
                self.pipelines[variant.id] = candidate
                self.notes[variant.model.name] = candidate.task.data_description
            except (EngineUnavailable, AssetMissing, AssetCorrupt) as exc:
                self.pipelines[variant.id] = exc
        return self.pipelines[variant.id]

    def pipeline_of(self, variant: Variant, assets: Assets, cache: ArtifactCache) -> VariantPipeline:
        """The session's one prepared pipeline of ``variant`` (its accuracy, size, latency and
        speed-up tests share it); skips with the reason if an optional engine is missing."""
        found = self.prepare(variant, assets, cache)
        if isinstance(found, AssetCorrupt):
            pytest.fail(str(found), pytrace=False)
        if isinstance(found, Exception):
            self.ledger[variant].not_gated = str(found)
            raise pytest.skip.Exception(str(found)) from found   # the cause: for --require-all
        self.ledger[variant].threads = found.engine.threads
        return found

    def machine_drift(self) -> MachineDrift:
        """The calibration, begun before the first test (``fill_cache``) or, in an xdist
        worker, before its first timing test."""
        if self.drift is None:
            self.drift = MachineDrift.begin(began="before the first timing test")
        return self.drift

    # -- before the first test -------------------------------------------------------------
    def fill_cache(self, session: pytest.Session) -> None:
        """Refuse a session that cannot gate what it selected, then fill the cache for the
        selected variants in parallel (``prebuild.py``)."""
        config = self.config
        selected = {item.callspec.params["variant"].id: item.callspec.params["variant"]
                    for item in session.items
                    if hasattr(item, "callspec") and "variant" in item.callspec.params}
        if not selected or config.getoption("collectonly"):
            return
        if session.testsfailed:
            # a collection error ends the session after collection: building the cache first
            # would make the user wait half an hour for an error pytest already has
            return
        worker = distributed.is_worker(config)
        if not worker and not timing_disabled(config) and any(item.name.startswith("test_speed")
                                                              for item in session.items):
            # before any test, so a process state left by earlier tests shows as drift
            self.drift = MachineDrift.begin()
        assets = assets_from_config(config)
        cache = ArtifactCache(config.getoption("--cache-dir"))
        prepared = {vid: self.prepare(v, assets, cache) for vid, v in selected.items()}
        asset_problems = sorted({str(p) for p in prepared.values()
                                 if isinstance(p, (AssetMissing, AssetCorrupt))})
        if asset_problems:
            count = sum(isinstance(p, (AssetMissing, AssetCorrupt)) for p in prepared.values())
            pytest.exit(f"compbench: {count} selected variant(s) cannot be gated, nothing was "
                        "run:\n  " + "\n  ".join(asset_problems), returncode=EXIT_UNGATEABLE)
        jobs = config.getoption("--build-jobs") or available_cores()
        if jobs < 2 or worker:   # an xdist worker builds its own units in its tests
            return
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        log = reporter.write_line if reporter else print
        footprint = config.getoption(FOOTPRINT) and any(item.name.startswith("test_footprint")
                                                        for item in session.items)
        prebuild([p for p in prepared.values() if isinstance(p, VariantPipeline)], jobs, log,
                 footprint=footprint)

    # -- xdist -----------------------------------------------------------------------------
    def worker_payload(self) -> dict:
        """What a worker hands its controller: its ledger, notes and timing drift."""
        if self.drift is not None and not self.drift.later_s:
            self.drift.look()  # the end of this worker's timing phase, on its own machine
        return results_file.payload(self.ledger, self.notes, self.drift, provenance())

    def merge_worker(self, payload, worker_id: str) -> None:
        found = results_file.parse(payload, f"xdist worker {worker_id}")
        results_file.merge_into(found, self.ledger, self.notes)
        self.worker_machines.append(found.machine)
        if found.drift is not None:
            self.drift = found.drift

    # -- at the end ------------------------------------------------------------------------
    def record_baselines(self, exitstatus: int, testsfailed: int) -> None:
        """``--update-baselines``: only a session that ended normally with every test passed
        (an interrupted or broken run must not become the reference), before the report."""
        notes = self.baseline_changes
        if not may_record(int(exitstatus), self.failed, testsfailed):
            notes.append(f"baselines NOT updated: the session did not pass cleanly (exit status "
                         f"{int(exitstatus)}, {testsfailed} failed/errored test(s)); fix them "
                         "and run again")
            return
        if self.failed:
            notes.append(f"{len(self.failed)} variant(s) below their accuracy floor (listed "
                         "above): their values are recorded all the same, the floor is not a "
                         "baseline")
        foreign = distributed.foreign_machines(self.worker_machines)
        if foreign:
            notes.append("baselines NOT updated: xdist workers measured on other machines than "
                         "this one, whose hardware class the values would be filed under: "
                         + "; ".join(foreign) + ". Record on one machine (or with -n on this host).")
            return
        measured = self.ledger.measured_for_baseline()
        if not measured:
            notes.append("baselines NOT updated: nothing was measured")
            return
        baselines = load_baselines(self.config)
        changes = baselines.record(measured, recording_provenance(self.config))
        notes.append(f"baselines {'updated' if changes else 'unchanged'}: {baselines.path}")
        notes.extend("  " + line for line in changes)

    def header(self, origin: dict) -> str:
        machine = hardware.current()
        threads = ", ".join(f"{name} {count}" for name, count in engine_threads().items())
        drift = self.drift
        state = f"Machine state: {drift.describe()}; {keep_freed_memory()}.\n" if drift else ""
        return (f"# compbench report {origin['date']}\n\n"
                f"Profile `{self.config.getoption('--profile')}`, commit `{origin['git_commit']}`.\n"
                f"Machine: {machine.describe()}. Timing threads per engine: {threads}; builds and "
                "accuracy evaluations: one thread, each in its own process.\n"
                + state +
                "Latency: pytest-benchmark rounds of one batch-1 forward. Speed-up vs fp32 on the "
                "same engine: the same rounds, each paired with one fp32 round (alternating, "
                "ABBA), the Hodges–Lehmann estimate of the per-round ratios with its 95 % Wilcoxon "
                "interval (gated: regression only when the whole interval is below the floor); vs "
                "the model's reference engine: ratio of the two rows' minimum rounds (taken minutes "
                "apart, noisier). Δ vs baseline: measured − "
                "stored baseline (accuracy metrics); `baseline` names the hardware class the "
                "CPU-dependent values were compared with (`shared`: the same on every machine).\n\n")

    def write_outputs(self, terminalreporter) -> None:
        """The comparison table on the terminal, then the results file, the history and the
        report files, each on its own: a folder that fails one write (checked at the start,
        but disks fill up) loses that file, never the results or the history."""
        config, ledger, write = self.config, self.ledger, terminalreporter.write_line
        for line in self.baseline_changes:
            write(line)
        if not ledger.results:
            return
        if self.drift is not None and not self.drift.later_s:
            self.drift.look()  # the end of the timing phase
        # the process id too: two sessions ending in the same second must not replace each
        # other's report and results file
        stamp = f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
        origin = provenance()
        header = self.header(origin)
        markdown = header + render(ledger, self.notes)
        report_dir = reports_dir(config)
        terminalreporter.write_sep("=", "compbench comparison")
        write(markdown)
        try:
            results = results_file.write(
                results_file.payload(ledger, self.notes, self.drift, origin), report_dir, stamp)
            write(f"results file (for `compbench merge`): {results}, Bencher "
                  f"metrics: {results_file.write_bencher(ledger.results, report_dir)}")
        except (OSError, CompbenchError) as exc:
            write(f"compbench: results file not written: {exc}")
        history: History | None = History(resolve_history_path(report_dir,
                                                                config.getoption("--history")))
        try:
            history.record(ledger, recording_provenance(config), config.getoption("--profile"),
                           self.drift.describe() if self.drift else None)
            kept = f"history: {history.path}, {history.session_count()} session(s)"
        except HistoryError as exc:   # the run's results stand; only the trend is missing
            write(f"compbench: history not written: {exc}")
            history, kept = None, "no history"
        try:
            path, html_path, unread = write_reports(
                ledger, self.notes, f"compbench report {origin['date']}",
                [line for line in header.splitlines()[1:] if line.strip()], markdown,
                report_dir, stamp, history)
            write(f"report written to {path}")
            if unread:
                write(f"compbench: history not read: {unread}")
            write(f"HTML report with plots: {html_path} ({kept})")
        except CompbenchError as exc:
            write(f"compbench: report not written: {exc}")
        not_gated = {vid: r.not_gated for vid, r in ledger.results.items() if r.not_gated}
        if not_gated:
            write(f"{len(not_gated)} variant(s) not gated (optional engine or package missing):")
            for variant_id, reason in not_gated.items():
                write(f"  {variant_id}: {reason}")
        if self.drift is not None and not self.drift.stable:
            write(f"compbench: {self.drift.describe()}")
        inconclusive = [text for r in ledger.results.values() for text in r.inconclusive]
        if inconclusive:
            write(f"{len(inconclusive)} measurement(s) inconclusive (not gated: the interval "
                  "straddles the floor):")
            for text in inconclusive:
                write(f"  {text}")
