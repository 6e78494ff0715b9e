"""The bench session: variant parametrization, shared pipelines, baselines and the final report.

Registered by the root conftest for every run; the fixtures here are used by ``bench/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from compbench.assets import Assets
from compbench.baselines import BASELINE_DIR, Baselines
from compbench.cache import ArtifactCache
from compbench.errors import AssetMissing, BaselineError, EngineUnavailable
from compbench.pipeline import VariantPipeline
from compbench.prebuild import missing_builds, prebuild
from compbench.provenance import provenance
from compbench.pytest_assets import assets_from_config
from compbench.report import render, write_report
from compbench.results import Ledger
from compbench.settings import REPO_ROOT
from compbench.variants import VARIANTS, Variant
from engines.base import available_cores

LEDGER = pytest.StashKey[Ledger]()
PIPELINES = pytest.StashKey[dict]()
NOTES = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compbench")
    group.addoption("--profile", default="default",
                    help="baseline profile: baselines/<profile>.json (default: default, the "
                         "embedded mini data)")
    group.addoption("--baselines-dir", default=str(BASELINE_DIR),
                    help="folder of <profile>.json baseline files (default: baselines/)")
    group.addoption("--update-baselines", action="store_true",
                    help="record this session's measurements into baselines/<profile>.json "
                         "(atomic, with provenance) instead of gating on them")
    group.addoption("--report-dir", default=str(REPO_ROOT / "reports"),
                    help="where the markdown comparison report is written")
    group.addoption("--engine", default=None, metavar="NAMES",
                    help="comma-separated engines to run (default: all in the variant table)")
    group.addoption("--cache-dir", default=None,
                    help="artifact cache (default: $COMPBENCH_CACHE or ~/.cache/compbench)")
    group.addoption("--build-jobs", type=int, default=None, metavar="N",
                    help="build missing recipe artifacts in N parallel processes before the "
                         "tests start (default: the number of cores; 1: build in the tests)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[LEDGER] = Ledger()
    config.stash[PIPELINES] = {}
    config.stash[NOTES] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        engines = metafunc.config.getoption("--engine")
        variants = [v for v in VARIANTS.values()
                    if not engines or v.engine in engines.split(",")]
        metafunc.parametrize("variant", variants, ids=[v.id for v in variants], scope="session")


@pytest.fixture(scope="session")
def ledger(pytestconfig: pytest.Config) -> Ledger:
    return pytestconfig.stash[LEDGER]


@pytest.fixture(scope="session")
def baselines(pytestconfig: pytest.Config) -> Baselines:
    try:
        return load_baselines(pytestconfig)
    except BaselineError as exc:  # every gate depends on it: stop with the one message
        pytest.exit(f"compbench: {exc}", returncode=4)


def load_baselines(config: pytest.Config) -> Baselines:
    profile = config.getoption("--profile")
    return Baselines.load(profile, Path(config.getoption("--baselines-dir")) / f"{profile}.json")


@pytest.fixture(scope="session")
def updating_baselines(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--update-baselines"))


@pytest.fixture(scope="session")
def artifact_cache(pytestconfig: pytest.Config) -> ArtifactCache:
    return ArtifactCache(pytestconfig.getoption("--cache-dir"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Cold cache: build the selected variants' recipes in parallel first (``prebuild.py``)."""
    config = session.config
    jobs = config.getoption("--build-jobs") or available_cores()
    if jobs < 2 or config.getoption("collectonly"):
        return
    selected = {item.callspec.params["variant"].id: item.callspec.params["variant"]
                for item in session.items
                if hasattr(item, "callspec") and "variant" in item.callspec.params}
    if not selected:
        return
    assets = assets_from_config(config)
    cache = ArtifactCache(config.getoption("--cache-dir"))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    log = reporter.write_line if reporter else print
    prebuild(missing_builds(selected.values(), assets, cache), assets, cache, jobs, log)


def pipeline_of(config: pytest.Config, variant: Variant, assets: Assets,
                cache: ArtifactCache) -> VariantPipeline:
    """The session's one prepared pipeline of ``variant`` (its accuracy, size, latency and
    speed-up tests share it); skips with the reason if an optional engine or asset is missing.
    """
    pipelines = config.stash[PIPELINES]
    if variant.id not in pipelines:
        tasks = {p.variant.model.name: p.task for p in pipelines.values()
                 if isinstance(p, VariantPipeline)}
        candidate = VariantPipeline(variant, assets, cache, tasks.get(variant.model.name))
        try:
            candidate.prepare()
            pipelines[variant.id] = candidate
            config.stash[NOTES][variant.model.name] = candidate.task.data_description
        except (EngineUnavailable, AssetMissing) as exc:
            pipelines[variant.id] = exc
    found = pipelines[variant.id]
    if isinstance(found, Exception):
        pytest.skip(str(found))
    config.stash[LEDGER][variant].threads = found.engine.threads
    return found


@pytest.fixture(scope="session")
def pipeline(variant: Variant, assets: Assets, artifact_cache: ArtifactCache,
             pytestconfig: pytest.Config) -> VariantPipeline:
    """One prepared pipeline per variant, shared by its accuracy, size and latency tests.

    A missing optional engine or asset skips with the reason; anything else is an error.
    """
    return pipeline_of(pytestconfig, variant, assets, artifact_cache)


@pytest.fixture(scope="session")
def pipelines(assets: Assets, artifact_cache: ArtifactCache,
              pytestconfig: pytest.Config) -> Callable[[Variant], VariantPipeline]:
    """Pipeline of any variant, e.g. the fp32 reference a speed-up is measured against."""
    return lambda variant: pipeline_of(pytestconfig, variant, assets, artifact_cache)


def timing_disabled(config: pytest.Config) -> bool:
    """pytest-benchmark's own switches also turn off the paired speed-up timing."""
    return bool(config.getoption("benchmark_disable", False)
                or config.getoption("benchmark_skip", False))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    ledger: Ledger = config.stash[LEDGER]
    if not ledger.results:
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    origin = provenance()
    header = (f"# compbench report {origin['date']}\n\n"
              f"Profile `{config.getoption('--profile')}`, commit `{origin['git_commit']}`, "
              f"{origin['machine']['cpu']} ({origin['machine']['cores']} cores). Latency: "
              "pytest-benchmark rounds of one batch-1 forward. Speed-up vs fp32 on the same engine: "
              "paired measurement, the two models alternating round by round, ratio of their "
              "minimum rounds; vs the model's reference engine: ratio of the latency tests' "
              "minimum rounds (taken minutes apart, noisier). Δ vs baseline: measured − stored "
              "baseline (accuracy metrics).\n\n")
    markdown = header + render(ledger, config.stash[NOTES])
    path = write_report(markdown, Path(config.getoption("--report-dir")), stamp)
    terminalreporter.write_sep("=", "compbench comparison")
    terminalreporter.write_line(markdown)
    terminalreporter.write_line(f"report written to {path}")
    if config.getoption("--update-baselines"):
        _update_baselines(terminalreporter, config, ledger, origin)


def _update_baselines(terminalreporter, config: pytest.Config, ledger: Ledger,
                      origin: dict) -> None:
    baselines = load_baselines(config)
    data, changes = baselines.updated(ledger.measured_for_baseline(), origin)
    if not changes:
        terminalreporter.write_line(f"baselines unchanged: {baselines.path}")
        return
    baselines.write(data)
    terminalreporter.write_sep("-", f"baselines updated: {baselines.path}")
    for line in changes:
        terminalreporter.write_line("  " + line)
