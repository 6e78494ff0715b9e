"""The unit tests run on several xdist workers (``make test``: ``pytest tests -n auto``), those
marked ``timing`` afterwards on their own.

Many of them start a bench session of their own in a child process. xdist marks its workers
with ``PYTEST_XDIST_*`` environment variables, which a child would inherit, and
pytest-benchmark reads ``PYTEST_XDIST_WORKER`` as "this session is an xdist worker" and turns
its timing off: the child's speed tests would then fail for a reason that has nothing to do
with what they test. The child sessions are not workers of this run, so the markers go before
any test starts one (this process's xdist reads its own role from its worker input, not from
the environment).

Under ``--dist loadfile`` xdist hands whole files to the workers, those with the most tests
first, so a long file of few tests handed out last keeps one worker busy while the other
idles. The files that run real sessions go first instead (longest first, ``LONGEST_FIRST``):
only the workers' balance depends on the list; a file not in it runs after them, in xdist's
order. ``make test`` prints the slowest tests, so CI's log keeps the list in step.
"""

from __future__ import annotations

import os
from pathlib import Path

XDIST_MARKERS = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")
LONGEST_FIRST = ("test_bad_input.py", "test_example_project.py", "test_distributed.py",
                 "test_prebuild.py", "test_parameter_selection.py", "test_cache.py",
                 "test_cache_dependencies.py", "test_warm_interpreter.py", "test_plugins.py",
                 "test_keras_track.py", "test_strict_gate.py", "test_html_report.py",
                 "test_concurrent_sessions.py", "test_wider_full_val.py",
                 "test_cache_concurrency.py", "test_shards.py")


def pytest_configure(config) -> None:
    for name in XDIST_MARKERS:
        os.environ.pop(name, None)
    config.addinivalue_line(
        "markers", "timing: asserts on real timings (a verdict of compare, bisect or the speed "
        "gate); `make test` runs these after the parallel tests, alone on the machine, as a "
        "neighbour's load biases a paired measurement (identical sides measured 1.07x)")


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the files of ``LONGEST_FIRST`` handed out first, in its order;
    the others after them, in xdist's own order (the most tests first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}

    class LongestFirst(LoadFileScheduling):
        def _assign_work_unit(self, node) -> None:
            if self.workqueue:
                first = min(self.workqueue, key=lambda scope: rank.get(Path(scope).name, len(rank)))
                self.workqueue.move_to_end(first, last=False)   # the parent hands out the first
            super()._assign_work_unit(node)

    return LongestFirst(config, log)
