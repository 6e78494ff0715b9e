"""The unit tests run on several xdist workers (``make test``: ``pytest tests -n auto``), those
marked ``timing`` afterwards on their own.

Many of them start a bench session of their own in a child process. xdist marks its workers
with ``PYTEST_XDIST_*`` environment variables, which a child would inherit, and
pytest-benchmark reads ``PYTEST_XDIST_WORKER`` as "this session is an xdist worker" and turns
its timing off: the child's speed tests would then fail for a reason that has nothing to do
with what they test. The child sessions are not workers of this run, so the markers go before
any test starts one (this process's xdist reads its own role from its worker input, not from
the environment).
"""

from __future__ import annotations

import os

XDIST_MARKERS = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


def pytest_configure(config) -> None:
    for name in XDIST_MARKERS:
        os.environ.pop(name, None)
    config.addinivalue_line(
        "markers", "timing: asserts on real timings (a verdict of compare, bisect or the speed "
        "gate); `make test` runs these after the parallel tests, alone on the machine, as a "
        "neighbour's load biases a paired measurement (identical sides measured 1.07x)")
