"""The bench session's pytest hooks and fixtures: options, variant parametrization, xdist.

Registered by the root conftest for every run; the fixtures here are used by ``bench/``. The
hooks stay thin: the session's state and work (pipelines, ledger, prebuild, baselines, the
report) live in one ``compbench.runner.bench_session.BenchSession`` per run.

What the session guarantees (README, "What the gate guarantees"):
- a selected variant whose assets are missing or corrupt ends the session non-zero before any
  test runs (one line per missing file, saying where to get it); only a missing *optional
  engine* skips, and the summary counts every variant that was not gated and why;
- an unknown ``--engine``, ``--engine-family`` or ``--profile`` is a usage error;
- ``--update-baselines`` writes only when the session finished normally with no failed or
  errored test, before the report is rendered, under the baseline file's lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest

from compbench import hardware, isa_emulation
from compbench.allocator import keep_freed_memory
from compbench.assets import Assets
from compbench.cache import ArtifactCache
from compbench.engines.registry import ENGINES, families
from compbench.errors import AssetMissing, BaselineError, CompbenchError, EngineUnavailable
from compbench.machine_drift import MachineDrift
from compbench.paired_timing import PairingPlan
from compbench.runner import distributed, durations, matrix, shards
from compbench.runner.baselines import NEAREST, Baselines, baseline_path
from compbench.runner.bench_session import (  # noqa: F401 - FLOOR_TEST, may_record, timing_disabled: for bench/ and tests/
    FLOOR_TEST,
    FOOTPRINT,
    BenchSession,
    baselines_dir,
    load_baselines,
    may_record,
    reports_dir,
    timing_disabled,
)
from compbench.runner.history import History
from compbench.runner.matrix import variants
from compbench.runner.option_types import positive_int, positive_seconds
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.plugin_manager import MATRIX_ENV, explicit_plugins, load_matrix
from compbench.runner.report import REPORT_SETTING
from compbench.runner.results import Ledger
from compbench.settings import resolve_history_path
from compbench.specs import Variant
from compbench.writable import writable_dir

SESSION = pytest.StashKey[BenchSession]()
STRICT_ACCEPTANCES = "--strict-acceptances"
REQUIRE_ALL = "--require-all"
# what a test leaves in its report's user_properties for the summary line (they reach an xdist
# controller with the report)
STALE_ACCEPTANCE = "compbench_stale_acceptance"
NOT_GATED = "compbench_not_gated"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compbench")
    group.addoption("--matrix", default=None, metavar="MODULES",
                    help="comma-separated plugin modules declaring what to benchmark "
                         "(compbench.runner.hookspec), instead of the project's [tool.compbench] "
                         f"plugins (default: ${MATRIX_ENV} or the project's)")
    group.addoption("--profile", default="default",
                    help="baseline profile: baselines/<profile>.json (default: default, the "
                         "embedded mini data)")
    group.addoption("--baselines-dir", default=None,
                    help="folder of <profile>.json baseline files (default: the project's "
                         "baselines/)")
    group.addoption("--update-baselines", action="store_true",
                    help="record this session's measurements into baselines/<profile>.json "
                         "(only if every test passed; atomic, locked, with provenance) instead "
                         "of gating on them")
    group.addoption("--report-dir", default=None,
                    help="where the comparison report is written (markdown, HTML with plots; "
                         "default: the project's reports/)")
    group.addoption("--history", default=None, metavar="PATH",
                    help="SQLite database every session's results are appended to (default: "
                         "$COMPBENCH_HISTORY or <report dir>/history.sqlite)")
    group.addoption("--engine", default=None, metavar="NAMES",
                    help=f"comma-separated engines to run (default: all): {', '.join(ENGINES)}")
    group.addoption("--engine-family", default=None, metavar="FAMILIES",
                    help="comma-separated engine families to run, as the engines declare them "
                         f"(default: all): {', '.join(sorted(families()))}; with --engine: "
                         "the engines in both")
    group.addoption("--cache-dir", default=None,
                    help="artifact cache (default: $COMPBENCH_CACHE or ~/.cache/compbench)")
    group.addoption("--build-jobs", type=positive_int, default=None, metavar="N",
                    help="prepare missing artifacts and evaluations in N parallel processes "
                         "before the tests start (default: the number of cores; 1: in the tests)")
    group.addoption("--shard", type=shards.parse_shard, default=None, metavar="K/N",
                    help="run shard K of N: the selected build groups split into N of balanced "
                         "estimated duration by ci/durations.json (docs/sharding.md)")
    group.addoption("--speed-budget", type=positive_seconds, default=PairingPlan().budget_s,
                    metavar="SECONDS",
                    help="time for one variant's paired rounds with its fp32 reference (default: "
                         "%(default)s); more narrows the speed-up's interval on a noisy machine")
    group.addoption(STRICT_ACCEPTANCES, action="store_true",
                    help="a row accepted below its accuracy floor on this hardware class that "
                         "meets the floor fails (default: passes with a StaleAcceptance warning)")
    group.addoption(REQUIRE_ALL, action="store_true",
                    help="for CI: a test that would skip because an asset or an optional engine "
                         "is missing, or a speed test that timed nothing (--benchmark-disable), "
                         "fails instead")
    group.addoption(FOOTPRINT, action="store_true",
                    help="also measure each variant's peak memory and start-up in a fresh process, "
                         "and its throughput at the evaluation batch (reported, not gated; the "
                         "nightly turns it on)")


def selected_engines(config: pytest.Config) -> list[str] | None:
    """The engines to run (None: all). Families let a tox env select its engines without
    naming them, so an engine added to a family needs no tox.ini edit."""
    names = _listed(config, "--engine", "engine", list(ENGINES))
    chosen_families = _listed(config, "--engine-family", "engine family", sorted(families()))
    if chosen_families is None:
        return names
    in_families = [name for family in chosen_families for name in families()[family]]
    return [name for name in names or in_families if name in in_families]


def _listed(config: pytest.Config, option: str, kind: str, known: list[str]) -> list[str] | None:
    raw = config.getoption(option)
    if not raw:
        return None
    names = [name.strip() for name in raw.split(",")]
    unknown = [name for name in names if name not in known]
    if unknown or not all(names):
        raise pytest.UsageError(f"{option} {raw!r}: unknown {kind} name(s) "
                                f"{', '.join(repr(n) for n in unknown) or '(empty)'}; known: "
                                f"{', '.join(known)}")
    return names


def pytest_configure(config: pytest.Config) -> None:
    # TensorFlow's C++ INFO/WARNING lines (oneDNN notices, CUDA stubs) are not for a user's
    # terminal; set before any engine imports it. TF_CPP_MIN_LOG_LEVEL=0 brings them back.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # transformers would import TensorFlow too (seconds, and its notices) just to unpickle a
    # ViT; and torchao's optional-kernel and torch's pytree deprecation warnings, logged when
    # transformers imports torchao, say nothing about the model under test.
    os.environ.setdefault("USE_TF", "0")
    for noisy in ("torchao", "torch.utils._pytree"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    config.addinivalue_line("markers", "compressed_only: parametrized over the compressed "
                            "variants only (not fp32, the reference they are measured against)")
    keep_freed_memory()  # before any engine allocates (compbench/allocator.py)
    try:   # the matrix first: a typo in a row is one usage error before anything else runs
        matrix.use(load_matrix(modules=explicit_plugins(config.getoption("--matrix"))))
    except CompbenchError as exc:
        raise pytest.UsageError(f"compbench: {exc}") from None
    selected_engines(config)
    try:
        hardware.current()
    except isa_emulation.EmulationError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        baseline_path(config.getoption("--profile"), baselines_dir(config))
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:   # the folders the session writes to: said now, not after its hours (compbench/writable.py)
        ArtifactCache(config.getoption("--cache-dir")).ensure_root()
        if not distributed.is_worker(config):
            report_dir = reports_dir(config)
            writable_dir(report_dir, "report folder", REPORT_SETTING)
            History(resolve_history_path(report_dir, config.getoption("--history"))).check_writable()
    except CompbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION] = BenchSession(config)
    config.pluginmanager.register(FailedTests(config), "compbench-failed-tests")
    config.pluginmanager.register(SaveOnlyWhatWasTimed(), "compbench-benchmark-saving")
    config.pluginmanager.register(SummaryCounts(config), "compbench-summary-counts")
    if config.getoption(REQUIRE_ALL):
        config.pluginmanager.register(RequireAll(), "compbench-require-all")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """On an xdist worker the controller scheduled timing for: let pytest-benchmark time (it
    switched itself off in every worker during its own configure)."""
    if distributed.is_worker(session.config):
        distributed.allow_timing_on_worker(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if distributed.schedules_timing(config):
        return distributed.make_scheduler(config, log)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput[distributed.TIMING_ALLOWED] = distributed.schedules_timing(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """A worker's ledger, notes and (the timing worker's) drift, into the controller's."""
    config = node.config
    payload = getattr(node, "workeroutput", {}).get(distributed.WORKER_OUTPUT)
    if payload is not None and SESSION in config.stash:
        config.stash[SESSION].merge_worker(payload, node.gateway.id)


class SaveOnlyWhatWasTimed:
    """A session (or xdist worker) that timed nothing saves no pytest-benchmark run: the
    ``--benchmark-autosave`` of pyproject.toml would only warn "Not saving anything" into the
    user's terminal. Under xdist the one timing worker saves the session's run."""

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)   # around pytest-benchmark's own saving
    def pytest_sessionfinish(self, session: pytest.Session):
        benchmarks = getattr(session.config, "_benchmarksession", None)
        if benchmarks is not None and not benchmarks.benchmarks:
            benchmarks.save = benchmarks.autosave = benchmarks.json = None
        yield


class FailedTests:
    """Which tests failed (any phase): the baseline update needs to know, not only how many.
    From the reports, so the controller of an xdist session sees its workers' failures too."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.config.stash[SESSION].failed.append(report.nodeid)


class SummaryCounts:
    """What passed or skipped but still asks for action, counted in pytest's summary line (as
    its warnings are) and listed above it: acceptances to remove, speed not gated. From the
    reports, so the controller of an xdist session counts its workers' tests too."""

    STALE = ("stale acceptance to remove", "stale acceptances to remove")
    CROSS_CLASS = ("value gated against another hardware class's (cross-class tolerance)",
                   "values gated against another hardware class's (cross-class tolerance)")

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.found: dict[tuple[str, str], list[str]] = {}   # (singular, plural) -> texts

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":   # each phase's report carries the test's properties
            return
        for name, value in report.user_properties:
            if name == STALE_ACCEPTANCE:
                self.found.setdefault(self.STALE, []).append(value)
            elif name == NOT_GATED:   # [what was not gated and why, the variant]
                label, text = value
                self.found.setdefault((label, label), []).append(text)

    @pytest.hookimpl(trylast=True)   # below the comparison report
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if distributed.is_worker(self.config):
            return
        # from the ledger, which holds every worker's results on the controller: each use of
        # the wide fallback is a class that still lacks values of its own
        borrowed = [f"{result.variant.id} {metric}: {basis}"
                    for result in self.config.stash[SESSION].ledger.results.values()
                    for metric, basis in sorted(result.baseline_basis.items())
                    if basis.endswith(NEAREST)]
        if borrowed:
            self.found[self.CROSS_CLASS] = borrowed
        for (singular, plural), texts in self.found.items():
            key = singular if len(texts) == 1 else plural
            terminalreporter.write_line(f"{len(texts)} {key}:")
            for text in texts:
                terminalreporter.write_line(f"  {text}")
            terminalreporter.stats.setdefault(key, []).extend(texts)


class RequireAll:
    """``--require-all``: CI has every asset and engine, so a skip for a missing one means the
    run gated less than it says. The skip's cause tells: it was raised while handling (or
    ``from``) the AssetMissing or EngineUnavailable that names what is missing."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        skipped = (call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception)
                   and report.skipped and not hasattr(report, "wasxfail"))
        missing = skipped and missing_cause(call.excinfo.value)
        if missing:
            report.outcome = "failed"
            report.longrepr = (f"{item.nodeid}: would skip, but {REQUIRE_ALL} requires every "
                               f"asset and optional engine: {missing}")
        return report


def missing_cause(skip: BaseException) -> AssetMissing | EngineUnavailable | None:
    seen = skip.__cause__ or skip.__context__
    while seen is not None:
        if isinstance(seen, (AssetMissing, EngineUnavailable)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        engines = selected_engines(metafunc.config)
        chosen = [v for v in variants().values() if engines is None or v.engine in engines]
        if metafunc.definition.get_closest_marker("compressed_only"):
            chosen = [v for v in chosen if v.compression != "fp32"]
        metafunc.parametrize("variant", chosen, ids=[v.id for v in chosen], scope="session")


@pytest.fixture(scope="session")
def ledger(pytestconfig: pytest.Config) -> Ledger:
    return pytestconfig.stash[SESSION].ledger


@pytest.fixture(scope="session")
def baselines(pytestconfig: pytest.Config) -> Baselines:
    try:
        return load_baselines(pytestconfig)
    except BaselineError as exc:  # every gate depends on it: stop with the one message
        pytest.exit(f"compbench: {exc}", returncode=4)


@pytest.fixture(scope="session")
def updating_baselines(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--update-baselines"))


@pytest.fixture(scope="session")
def artifact_cache(pytestconfig: pytest.Config) -> ArtifactCache:
    return ArtifactCache(pytestconfig.getoption("--cache-dir"))


@pytest.hookimpl(trylast=True)   # after -k and -m: the shards split what they selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--shard K/N``: only shard K's build groups (runner/shards.py)."""
    if config.getoption("--shard") is None:
        return
    index, count = config.getoption("--shard")
    try:
        times = durations.StepTimes.read()
    except CompbenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    kept, dropped = shards.select(items, index, count, times, config.getoption("--speed-budget"),
                                  bool(config.getoption("--footprint", False)))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[SESSION].fill_cache(session)


def pipeline_of(config: pytest.Config, variant: Variant, assets: Assets,
                cache: ArtifactCache) -> VariantPipeline:
    return config.stash[SESSION].pipeline_of(variant, assets, cache)


@pytest.fixture(scope="session")
def pipeline(variant: Variant, assets: Assets, artifact_cache: ArtifactCache,
             pytestconfig: pytest.Config) -> VariantPipeline:
    """One prepared pipeline per variant, shared by its accuracy, size and latency tests.

    A missing optional engine skips with the reason; anything else is an error.
    """
    return pipeline_of(pytestconfig, variant, assets, artifact_cache)


@pytest.fixture(scope="session")
def pipelines(assets: Assets, artifact_cache: ArtifactCache,
              pytestconfig: pytest.Config) -> Callable[[Variant], VariantPipeline]:
    """Pipeline of any variant, e.g. the fp32 reference a speed-up is measured against."""
    return lambda variant: pipeline_of(pytestconfig, variant, assets, artifact_cache)


@pytest.fixture(scope="session")
def machine_drift(pytestconfig: pytest.Config) -> MachineDrift:
    """The session's calibration (compbench/machine_drift.py), begun before the first test
    (pytest_collection_finish) or, in an xdist worker, before its first timing test."""
    return pytestconfig.stash[SESSION].machine_drift()


def pairing_plan(config: pytest.Config) -> PairingPlan:
    budget = config.getoption("--speed-budget")
    if not budget > 0:
        raise pytest.UsageError(f"--speed-budget {budget}: give a positive number of seconds")
    return PairingPlan(budget_s=budget)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """pytest-benchmark's saved runs carry the int8-relevant hardware class too, so
    ``--benchmark-compare`` across machines shows it was across machines."""
    machine_info["compbench_hardware"] = hardware.current().as_dict()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """xdist workers hand their results to the controller; the controller (or a plain session)
    records baselines here, before the report, which could still fail."""
    config = session.config
    if SESSION not in config.stash:
        return
    bench = config.stash[SESSION]
    if distributed.is_worker(config):   # the controller records and reports, from all workers
        config.workeroutput[distributed.WORKER_OUTPUT] = bench.worker_payload()
    elif config.getoption("--update-baselines"):
        bench.record_baselines(int(exitstatus), session.testsfailed)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if SESSION in config.stash and not distributed.is_worker(config):
        config.stash[SESSION].write_outputs(terminalreporter)
