"""``compbench compare BASE HEAD``: two versions of the code or of its libraries, one job.

The speed-up against fp32 cannot see a change that slows fp32 and the variant alike (an engine
upgrade, a changed default); two nights' absolute latencies cannot be compared on a shared
machine. So each side — a git ref, a checkout folder, and/or another Python environment — runs
in its own worker process (``runner/compare_worker.py``) with its own code and artifacts, and
every selected variant is timed on both sides *round by round, interleaved* (ABBA), as the speed
gate pairs a variant with fp32: a neighbour's load lands on both sides of each round's ratio.

Per variant: the head's speed relative to the base (Hodges–Lehmann estimate of the per-round
ratios, 95 % Wilcoxon interval, ``compbench.paired_statistics``), accuracy and size differences,
and verdicts — a speed regression only when the whole interval lies below 1 − tolerance, an
accuracy regression beyond the metric's declared tolerance, a size regression beyond 2 %.
A speed regression found while the machine drifted (``compbench.machine_drift``: a fixed
workload timed when the workers are ready and again then) is inconclusive with that reason.
The exit status is 1 when anything regressed, 0 otherwise; a side that is not a compbench
checkout, or a base that ran none of the selected variants, is an error (exit 2), never "ok".
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compbench.errors import CompbenchError
from compbench.machine_drift import MachineDrift
from compbench.paired_statistics import RatioInterval
from compbench.paired_timing import PairedTiming, PairingPlan, paired_timing
from compbench.project import PROJECT_ENV, current
from compbench.runner.tolerances import RUNNER_TOLERANCES
from compbench.runner.verdicts import Verdict, allowance, interval_verdict, lowest_allowed, point_verdict
from compbench.settings import ASSETS_ENV, CACHE_ENV, REPO_ROOT, resolve_assets_dir, resolve_cache_dir
from compbench.tasks import metric as declared_metric

WORKER = Path(__file__).with_name("compare_worker.py")
# What the worker imports from a side's checkout: a folder without them would silently run the
# installed compbench (this checkout) instead, and report this code against itself as "ok".
CHECKOUT_FILES = ("compbench/assets.py", "compbench/cache.py", "runner/matrix.py",
                  "runner/pipeline.py")
# Both sides are timed in one job, so nothing but the interval has to cover the noise: half the
# bench's width, which flags a real slowdown more often than the bench's own width does
# (docs/how-to/compare.md; docs/speed-gate-study/compare_study.py measures both).
TARGET_WIDTH = 0.04


def compare_plan(budget_s: float) -> PairingPlan:
    """How ``compare`` times a variant: the bench's plan, narrower, within ``budget_s``."""
    return PairingPlan(budget_s=budget_s, target_width=TARGET_WIDTH)


class CompareError(CompbenchError):
    """A side could not be set up or a worker died: names the side and its log."""


@dataclass(frozen=True)
class Side:
    """``REF``, ``PATH`` (a checkout folder) or either with ``@PYTHON``; ``@PYTHON`` alone is
    this checkout with another interpreter."""

    label: str
    ref: str | None
    python: str

    @classmethod
    def parse(cls, text: str, label: str) -> Side:
        where, _, python = text.partition("@")
        return cls(label, where or None, python or sys.executable)


@dataclass(frozen=True)
class SideCode:
    """What one side's worker runs: compbench's code in ``root`` and, for a team's project, the
    side's copy of the project folder (its plugins, recipes and models)."""

    root: Path
    project: Path | None = None


class Worker:
    def __init__(self, side: Side, code: SideCode, log: Path, path_first: Path | None = None):
        """``path_first``: a folder put before everything else the side imports (a package
        release under test, ``compbench.runner.package_bisect``)."""
        self.side, self.log = side, log
        env = dict(os.environ)
        env.pop(PROJECT_ENV, None)   # a built-in side's own pyproject.toml names its suite
        if code.project is not None:
            env[PROJECT_ENV] = str(code.project)
        root = code.root
        if path_first is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path_first),
                                                              env.get("PYTHONPATH")]))
        env[ASSETS_ENV] = str(resolve_assets_dir())   # the same data on both sides
        env[CACHE_ENV] = str(resolve_cache_dir())     # content-addressed: each side's own keys
        with open(log, "w") as stderr:
            self.process = subprocess.Popen([side.python, str(WORKER), str(root)], env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=stderr, text=True, bufsize=1)

    def ask(self, **request) -> dict:
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            tail = "".join(self.log.read_text(errors="replace").splitlines(True)[-15:])
            raise CompareError(f"the {self.side.label} worker ({self.side.ref or 'this checkout'}, "
                               f"{self.side.python}) stopped; its log {self.log} ends:\n{tail}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask(cmd="quit")
            except CompareError:
                pass
            self.process.wait(timeout=30)


@dataclass
class VariantComparison:
    variant: str
    base: dict = field(default_factory=dict)
    head: dict = field(default_factory=dict)
    interval: RatioInterval | None = None   # head's speed relative to base (<1: head slower)
    base_p50_ms: float | None = None
    head_p50_ms: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_compared: str | None = None   # the base cannot run it (e.g. a variant new in the head)

    @property
    def verdict(self) -> str:
        if self.problems:
            return "REGRESSION"
        if self.not_compared:
            return "not compared"
        return "inconclusive" if self.notes else "ok"


@functools.cache
def compared_repository() -> tuple[Path, Path | None]:
    """The git repository whose refs and folders the sides name, and where the project sits in
    it. The built-in suite compares compbench's own code (``None``); a team's project
    (``compbench.project``) compares its own commits, each side run by this compbench with that
    side's copy of the project folder. Asked once per process (the project is, too): every
    side and every bisection probe needs it."""
    project = current()
    if project.root == REPO_ROOT:
        return REPO_ROOT, None
    top = subprocess.run(["git", "-C", str(project.root), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True)
    repository = Path(top.stdout.strip()).resolve() if top.returncode == 0 else project.root
    return repository, project.root.relative_to(repository)


def code_of(side: Side, tree: Path) -> SideCode:
    """What runs for ``tree``, a checkout of the compared repository; one error if it cannot."""
    _, project_in_tree = compared_repository()
    if project_in_tree is None:
        return SideCode(compbench_checkout(side, tree))
    folder = tree / project_in_tree
    if not (folder / "pyproject.toml").is_file():
        raise CompareError(f"the {side.label} {side.ref!r} has no project at {folder} (no "
                           "pyproject.toml): give a ref or a checkout of the project's repository "
                           "from after its [tool.compbench] table existed")
    return SideCode(REPO_ROOT, folder)


def checkout(side: Side, workdir: Path) -> SideCode:
    """The side's code: this checkout, a folder, or a detached worktree of a ref (of compbench,
    or of the project's repository when a team's project is compared)."""
    repository, project_in_tree = compared_repository()
    if side.ref is None:
        return SideCode(REPO_ROOT, None if project_in_tree is None else repository / project_in_tree)
    if Path(side.ref).is_dir():
        return code_of(side, Path(side.ref).resolve())
    target = workdir / side.label
    result = subprocess.run(["git", "-C", str(repository), "worktree", "add", "--detach",
                             str(target), side.ref], capture_output=True, text=True)
    if result.returncode != 0:
        raise CompareError(f"{side.label} {side.ref!r} is neither a folder nor a git ref of "
                           f"{repository}: {result.stderr.strip()}")
    return code_of(side, target)


def compbench_checkout(side: Side, root: Path) -> Path:
    """``root`` if it holds the code the worker imports; else one error naming the side."""
    missing = [name for name in CHECKOUT_FILES if not (root / name).is_file()]
    if missing:
        raise CompareError(
            f"the {side.label} {side.ref!r} is not a compbench checkout ({root} has no "
            f"{', '.join(missing)}): give the root folder of a compbench clone, a git ref of "
            f"{REPO_ROOT} from after compbench.assets and compbench.runner.pipeline existed, or "
            f"@PYTHON for this checkout with another interpreter")
    return root


def time_interleaved(base: Worker, head: Worker, variant: str, plan: PairingPlan,
                     single_thread: bool = False) -> PairedTiming:
    """The speed gate's pairing (``compbench.paired_timing``: warm-up, pilot, planned ABBA
    rounds) across the two processes; each time is measured inside its worker around one
    forward, not the pipe's round trip."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    def one_round(worker: Worker) -> Callable[[], float]:
        calls = iter(range(1 << 62))

        def run() -> float:
            # A one-thread engine runs wherever the scheduler keeps its process, and vCPUs of a
            # shared machine are not equally fast (docs/how-to/compare.md): both sides run
            # round k on the same core, rotating over the cores.
            k = next(calls)
            cpus = [cores[(k // 2) % len(cores)]] if single_thread and cores else None
            return worker.ask(cmd="time", variant=variant, cpus=cpus)["seconds"]
        return run

    return paired_timing(one_round(base), one_round(head), plan, measures_itself=True)


def speed_findings(interval: RatioInterval, tolerance: float,
                   unstable: Callable[[], str | None] = lambda: None) -> tuple[str | None, str | None]:
    """(problem, note) of the head's speed relative to the base, by the gate's interval rule
    (``compbench.runner.verdicts``) against the floor 1 − tolerance: a problem only when the whole
    interval lies below it and ``unstable()`` (asked only then) names no reason the machine
    cannot be trusted; a note when it straddles the floor or the machine drifted."""
    lowest = lowest_allowed(1.0, {"rel": tolerance})
    verdict, reason = interval_verdict(interval, lowest, unstable)
    below = f"speed {interval.describe()} of the base's, entirely below {lowest:.3g}"
    if verdict is Verdict.REGRESSION:
        return below, None
    if verdict is Verdict.INCONCLUSIVE:
        return None, (f"{below}, but {reason}: not gated" if reason
                      else f"speed {interval.describe()} straddles {lowest:.3g}")
    return None, None


def compare_variant(base: Worker, head: Worker, variant: str, plan: PairingPlan,
                    tolerance: float,
                    unstable: Callable[[], str | None] = lambda: None) -> VariantComparison:
    """``unstable()`` is asked only when the speed interval lies below the floor: a reason the
    machine cannot be trusted right now turns that regression into inconclusive (as the gate)."""
    result = VariantComparison(variant)
    result.base = base.ask(cmd="prepare", variant=variant)
    result.head = head.ask(cmd="prepare", variant=variant)
    if "error" in result.base:   # nothing to compare the head with
        result.not_compared = f"base could not run it: {result.base['error']}"
    elif "error" in result.head:   # what the base ran, the head must run too
        result.problems.append(f"head could not run it: {result.head['error']}")
    elif not result.base["metrics"]:
        result.not_compared = "base evaluated nothing (no metric)"
    else:
        lost = [name for name in result.base["metrics"] if name not in result.head["metrics"]]
        result.problems += [f"head did not report {', '.join(lost)}"] if lost else []
    if result.problems or result.not_compared:
        return result
    single = result.base.get("threads") == 1 and result.head.get("threads") == 1
    timing = time_interleaved(base, head, variant, plan, single_thread=single)
    result.interval = timing.interval
    result.base_p50_ms = float(np.median(timing.reference_s) * 1e3)
    result.head_p50_ms = float(np.median(timing.candidate_s) * 1e3)
    problem, note = speed_findings(timing.interval, tolerance, unstable)
    result.problems += [problem] if problem else []
    result.notes += [note] if note else []
    for name, base_value in result.base["metrics"].items():
        head_value = result.head["metrics"].get(name)
        declared = declared_metric(name)
        if head_value is None or declared is None:
            continue
        tol = declared.tolerance.as_entry()
        if point_verdict(head_value, base_value, tol, declared.higher_is_better,
                         two_sided=False) is Verdict.REGRESSION:
            result.problems.append(f"{name} {head_value:.4f} vs {base_value:.4f} "
                                   f"(tolerance {allowance(tol, base_value):.4g})")
    size_tolerance = RUNNER_TOLERANCES["size_bytes"]   # as the size gate
    head_size, base_size = result.head["size_bytes"], result.base["size_bytes"]
    if point_verdict(head_size, base_size, size_tolerance, higher_is_better=False,
                     two_sided=False) is Verdict.REGRESSION:
        result.problems.append(f"size {head_size / base_size - 1:+.1%} ({head_size} vs "
                               f"{base_size} bytes)")
    return result


def render(results: list[VariantComparison], base: Side, head: Side, tolerance: float) -> str:
    lines = [f"# compbench compare: head `{head.ref or 'this checkout'}` ({head.python}) vs base "
             f"`{base.ref or 'this checkout'}` ({base.python})", "",
             "Speed: head's rounds against the base's, interleaved round by round (ABBA), "
             f"Hodges–Lehmann estimate with its 95 % interval; >1: head faster; a regression "
             f"only when the whole interval is below {1 - tolerance:.3g}.", "",
             "| variant | base p50 (ms) | head p50 (ms) | head speed vs base (95 % CI) | accuracy Δ "
             "| size Δ | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        if r.interval is None:
            why = "; ".join(r.problems + ([r.not_compared] if r.not_compared else []))
            lines.append(f"| {r.variant} | – | – | – | – | – | {r.verdict}: {why} |")
            continue
        deltas = ", ".join(f"{m} {r.head['metrics'][m] - v:+.4f}" for m, v in r.base["metrics"].items()
                           if m in r.head["metrics"])
        size = r.head["size_bytes"] / r.base["size_bytes"] - 1
        why = "; ".join(r.problems + r.notes)
        lines.append(f"| {r.variant} | {r.base_p50_ms:.3f} | {r.head_p50_ms:.3f} | "
                     f"{r.interval.estimate:.3f}× [{r.interval.low:.3f}, {r.interval.high:.3f}] | "
                     f"{deltas or '–'} | {size:+.2%} | {r.verdict}{': ' + why if why else ''} |")
    return "\n".join(lines) + "\n"


def compare(base: Side, head: Side, variants: list[str], plan: PairingPlan, tolerance: float,
            log=print) -> tuple[str, bool]:
    """The markdown table and whether anything regressed."""
    results = compare_results(base, head, variants, plan, tolerance, log)
    return render(results, base, head, tolerance), any(r.problems for r in results)


def measured_something(results: list[VariantComparison], base: Side, head: Side) -> None:
    """A comparison in which no variant ran on both sides compared nothing: exit 0 (every row
    "not compared") would be green on nothing, and exit 1 would blame the code for a side that
    cannot run at all (a checkout whose matrix has other ids, an environment without the engine)."""
    if not results or any(r.interval is not None for r in results):
        return
    failed = [(label, side, [r for r in results if (r.not_compared if label == "base" else r.problems)])
              for label, side in (("base", base), ("head", head))]
    sides = "; ".join(
        f"the {label} ({side.ref or 'this checkout'}, {side.python}) could not run {len(rows)} "
        f"({rows[0].variant}: {rows[0].not_compared or rows[0].problems[0]})"
        for label, side, rows in failed if rows)
    raise CompareError(
        f"nothing was compared: none of the {len(results)} selected variant(s) ran on both sides: "
        f"{sides}. Select variants both sides have (`compbench variants` in each checkout), or "
        f"fix the side named (its checkout or its Python environment).")


def compare_results(base: Side, head: Side, variants: list[str], plan: PairingPlan,
                    tolerance: float, log=print) -> list[VariantComparison]:
    """Every selected variant compared, in order (for the table, or a study of the verdicts)."""
    with tempfile.TemporaryDirectory(prefix="compbench-compare-") as workdir:
        work = Path(workdir)
        codes = [checkout(side, work) for side in (base, head)]
        workers = []
        try:
            for side, code in zip((base, head), codes, strict=True):
                workers.append(Worker(side, code, work / f"{side.label}.log"))
            results = []
            drift = MachineDrift.begin()   # both workers loaded: the machine the timings see
            for i, variant in enumerate(variants, 1):
                log(f"compbench compare: [{i}/{len(variants)}] {variant}")
                results.append(compare_variant(*workers, variant, plan, tolerance,
                                               unstable=drift.unstable_reason))
            measured_something(results, base, head)
        finally:
            for worker in workers:
                worker.close()
            repository, _ = compared_repository()
            for side in (base, head):
                if (work / side.label).is_dir():
                    subprocess.run(["git", "-C", str(repository), "worktree", "remove", "--force",
                                    str(work / side.label)], capture_output=True)
    return results
