"""Root conftest: registers compbench's pytest plugins for both ``tests/`` and ``bench/``.

The test matrix is imported first: a mistake in a model or row declaration
(``compbench.specs.SpecError``) then ends the session as a usage error with its one message,
instead of as the traceback of a plugin that failed to import."""

import pytest

from compbench.specs import SpecError

try:
    import runner.matrix  # noqa: F401 - the declarations, checked as they are built
except SpecError as exc:
    DECLARATION_ERROR: str | None = str(exc)
    pytest_plugins = ["compbench.pytest_assets"]
else:
    DECLARATION_ERROR = None
    pytest_plugins = ["compbench.pytest_assets", "runner.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    if DECLARATION_ERROR:
        raise pytest.UsageError(f"compbench: {DECLARATION_ERROR}")
