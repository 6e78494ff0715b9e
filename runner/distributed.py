"""``pytest bench -n N``: accuracy and size spread over pytest-xdist workers, timing in one place.

Why a scheduler of our own rather than xdist's ``load``: a worker that builds a recipe should
also evaluate every variant made from that build (the other worker would otherwise build it
again or wait on its lock), and latency must not be measured while another worker is busy
building on the same cores. So the work units are *build groups* (a model's row and the chains
that start from it, every engine of each), and the timing tests form one last unit that is
handed to a single worker only when every other unit is finished; the other workers are shut
down then, so the timing worker has the machine to itself.

pytest-benchmark turns timing off in every xdist worker; the controller tells the worker it
hands the timing unit to that timing is safe there (``TIMING_ALLOWED``), and only then is it
turned back on. Under another ``--dist`` mode the timing tests fail with the reason instead of
passing untimed.

Units are handed out longest first (LPT: the longest processing time first), by the cold cost
``compbench.runner.durations`` estimates from the cache's recorded step times and ``ci/durations.json``:
a long group started last would keep one worker busy while the others wait for the timing unit.

Each worker's results (``compbench.runner.results_file``: ledger, notes, drift, machine) come back to the
controller through xdist's ``workeroutput``; the controller alone gates the baseline update and
writes the report and the history, from the merged ledger, as a serial session would.
"""

from __future__ import annotations

import re

import pytest

from compbench import hardware
from compbench.runner import durations
from compbench.runner.matrix import upstream_of, variants
from compbench.settings import resolve_cache_dir
from compbench.specs import Variant

TIMING_GROUP = "compbench-timing"
TIMING_TESTS = ("test_speed",)
FOOTPRINT_TEST = "test_footprint"
TIMING_ALLOWED = "compbench_timing_allowed"   # workerinput key: the controller schedules timing
WORKER_OUTPUT = "compbench_results"           # workeroutput key: compbench.runner.results_file.payload
SCHEDULED_MODES = ("load", "loadgroup")       # --dist modes our scheduler replaces
_BENCH_NODE = re.compile(r"::(?P<test>\w+)\[(?P<variant>[^\]]+)\]$")


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    return not is_worker(config) and getattr(config.option, "dist", "no") != "no"


def build_group(variant: Variant) -> str:
    """The model's row whose recipe build this variant starts from (a chain: its first row)."""
    while (upstream := upstream_of(variant)) is not None:
        variant = upstream
    return f"{variant.model.name}/{variant.compression}"


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: the timing group, its variant's build group, or (for
    any other test, such as the unit tests) itself."""
    if nodeid.rfind("@") > nodeid.rfind("]"):   # an explicit xdist_group mark (--dist loadgroup)
        return nodeid.rsplit("@", 1)[1]
    match = _BENCH_NODE.search(nodeid)
    if not match or match["variant"] not in variants():
        return nodeid
    if match["test"] in TIMING_TESTS:
        return TIMING_GROUP
    return build_group(variants()[match["variant"]])


def unit_cost(nodeids: list[str], times: durations.StepTimes, footprint: bool) -> float:
    """A unit's estimated cold seconds: each step its variants build, once (a test of no
    variant costs nothing, so the bench groups go first). ``footprint``: whether footprint
    tests measure (``--footprint``)."""
    tests: dict[Variant, set[str]] = {}
    for match in map(_BENCH_NODE.search, nodeids):
        if match and match["variant"] in variants():
            tests.setdefault(variants()[match["variant"]], set()).add(match["test"])
    return times.total(step for variant, names in tests.items() for step in times.steps(
        variant, ("accuracy", "footprint") if footprint and FOOTPRINT_TEST in names
        else ("accuracy",)))


def make_scheduler(config: pytest.Config, log, times: durations.StepTimes | None = None):
    """xdist's scheduler factory, for ``--dist load`` / ``loadgroup`` (what ``-n N`` means).
    ``times``: the step times to order units by (default: this machine's cache's over the
    committed ones)."""
    from xdist.scheduler import LoadScopeScheduling

    if times is None:
        try:
            times = durations.load(resolve_cache_dir(config.getoption("--cache-dir")))
        except durations.DurationsError as exc:
            raise pytest.UsageError(str(exc)) from None
    footprint = bool(config.getoption("--footprint", False))
    costs: dict[str, float] = {}

    class TimingLastScheduling(LoadScopeScheduling):
        """LoadScope over build groups, the longest first; the timing group last, alone, on
        one worker.

        A worker always holds its last test back until it gets more work or is shut down (it
        needs the next item to tear down), so "wait until every worker is idle" would wait
        forever. Instead, once only timing is left, each worker that runs low is shut down
        while another one still runs; the last one keeps going and gets the timing unit when
        the others have exited.
        """

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _cost(self, scope: str) -> float:
            if scope not in costs:
                costs[scope] = unit_cost(list(self.workqueue[scope]), times, footprint)
            return costs[scope]

        def _assign_work_unit(self, node) -> None:
            waiting = [scope for scope in self.workqueue if scope != TIMING_GROUP]
            # the longest first; among equals, xdist's order (the most tests first)
            unit = max(waiting, key=self._cost, default=None)
            if unit is not None:
                self.workqueue.move_to_end(unit, last=False)   # the parent pops the first
                super()._assign_work_unit(node)
            elif any(not other.shutting_down for other in self.nodes if other is not node):
                node.shutdown()   # someone else is still busy: they will do the timing
            elif len(self.nodes) == 1:   # the others have exited: the machine is ours
                super()._assign_work_unit(node)

        def remove_node(self, node):
            crashed = super().remove_node(node)
            for other in self.nodes:   # the last worker may be waiting for this one to exit
                self._reschedule(other)
            return crashed

    return TimingLastScheduling(config, log)


def schedules_timing(config: pytest.Config) -> bool:
    return is_controller(config) and config.option.dist in SCHEDULED_MODES


def allow_timing_on_worker(config: pytest.Config) -> None:
    """Undo pytest-benchmark's automatic xdist switch-off on a worker the controller vouches
    for (never a switch-off the user asked for: ``--benchmark-disable`` stays off)."""
    session = getattr(config, "_benchmarksession", None)
    if session is not None and session.xdist_warning and config.workerinput.get(TIMING_ALLOWED):
        session.disabled = False
        session.xdist_warning = False


def timing_refused(config: pytest.Config) -> str | None:
    """Why this process must not time (None: it may)."""
    if not is_worker(config) or config.workerinput.get(TIMING_ALLOWED):
        return None
    return ("timing under this --dist mode is refused: pytest-benchmark times nothing in an "
            "xdist worker, and a latency taken beside another worker's builds means nothing. "
            f"Run with -n N (--dist {' or '.join(SCHEDULED_MODES)}: the timing tests then run "
            "last, on one worker, alone), serially, or leave timing out (-k 'not test_speed' "
            "or --benchmark-disable)")


def foreign_machines(machines: list[hardware.Hardware]) -> list[str]:
    """The workers' machines that are not the controller's CPU model: their measurements would
    be recorded under the controller's hardware class, so a baseline update refuses them."""
    here = hardware.current()
    return sorted({m.describe() for m in machines
                   if (m.hardware_class, m.cpu) != (here.hardware_class, here.cpu)})
