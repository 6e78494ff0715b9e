"""Root conftest: registers compbench's pytest plugins for both ``tests/`` and ``bench/``."""

pytest_plugins = ["compbench.pytest_assets", "runner.pytest_plugin"]
