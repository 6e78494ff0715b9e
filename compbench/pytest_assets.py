"""Pytest glue for assets: ``--assets DIR`` and fixtures that skip (missing) or fail (corrupt)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from compbench.assets import Assets, parse_overrides
from compbench.errors import AssetMissing, BadOption


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compbench")
    group.addoption("--assets", default=None, metavar="DIR",
                    help="assets folder (default: $COMPBENCH_ASSETS or ../shared/assets)")
    group.addoption("--asset", action="append", default=None, metavar="RELPATH=PATH",
                    help="replace one asset file, e.g. scrfd/SCRFD_500M_KPS.pth=/data/my.pth "
                         "(repeatable; also $COMPBENCH_ASSET_OVERRIDES='a=b;c=d')")


def pytest_configure(config: pytest.Config) -> None:
    """Vet --asset and $COMPBENCH_ASSET_OVERRIDES at start-up: found later, in a fixture or a
    collection hook, a malformed override would surface as a traceback instead of one line."""
    assets_from_config(config)


def assets_from_config(config: pytest.Config) -> Assets:
    """The assets the command line names (also used by hooks, which cannot take fixtures).

    A malformed override is a usage error: pytest prints its message alone and exits 4.
    """
    overrides = config.getoption("--asset")
    try:
        return Assets(config.getoption("--assets"),
                      parse_overrides(overrides, "--asset") if overrides else None)
    except BadOption as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def assets(pytestconfig: pytest.Config) -> Assets:
    return assets_from_config(pytestconfig)


AssetGetter = Callable[[str], Path]


@pytest.fixture(scope="session")
def asset_file(assets: Assets) -> AssetGetter:
    """``asset_file("scrfd/SCRFD_500M_KPS.pth")``: verified path, or a skip naming the file."""

    def get(relpath: str) -> Path:
        try:
            return assets.file(relpath)
        except AssetMissing as exc:
            pytest.skip(str(exc))

    return get


@pytest.fixture(scope="session")
def asset_dir(assets: Assets) -> AssetGetter:
    def get(relpath: str) -> Path:
        try:
            return assets.directory(relpath)
        except AssetMissing as exc:
            pytest.skip(str(exc))

    return get
