"""Root conftest: registers compbench's pytest plugins for both ``tests/`` and ``bench/``.

What the session benchmarks is declared by the plugins this repository's pyproject.toml names
(``[tool.compbench]``: the built-in suite in ``runner/matrix.py``); the plugin loads and checks
that matrix first, so a mistake in a model or row ends the session as one usage error."""

pytest_plugins = ["compbench.pytest_assets", "compbench.runner.pytest_plugin"]
