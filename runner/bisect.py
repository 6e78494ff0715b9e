"""``compbench bisect GOOD BAD --select ID``: the first commit of a range that regressed a variant.

A red night says *that*, not *which commit*. Each probed commit runs in its own worktree and
worker process against GOOD's worker, timed interleaved and evaluated exactly as ``compbench
compare`` does (``compbench.runner.compare.compare_variant``: the same statistics and verdicts), so a
probe is "bad" when compare would call it a regression. GOOD's worker stays up for the whole
bisection; BAD is probed first (a range whose end is not worse than its start has no first bad
commit), then the range is halved: at most ⌈log2 N⌉ + 1 probes for N commits.

An *inconclusive* probe (the speed interval straddles the floor, or the machine drifted) is
measured again, a bounded number of times, rather than guessed; one still undecided is set
aside and a neighbour probed instead, and if the answer hinges on it the bisection ends with
the commits still in doubt. All probes share the artifact cache, whose entries are keyed by
the project files each step really loaded: a commit that did not touch a step's inputs reuses
its artifact. Each probe reports how many cache entries it had to build.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compbench.cache import ENTRY_FILE
from compbench.errors import CompbenchError
from compbench.machine_drift import MachineDrift
from compbench.paired_timing import PairingPlan
from compbench.runner.compare import Side, VariantComparison, Worker, code_of, compare_variant
from compbench.settings import REPO_ROOT, resolve_cache_dir

REMEASURE = 2                # extra measurements of an inconclusive probe
GOOD, BAD, INCONCLUSIVE = "good", "bad", "inconclusive"


class BisectError(CompbenchError):
    """The range or the repository cannot be bisected: names what and how to fix it."""


@dataclass
class Probe:
    commit: str
    subject: str
    comparisons: list[VariantComparison] = field(default_factory=list)
    builds: int = 0

    @property
    def last(self) -> VariantComparison:
        return self.comparisons[-1]

    def measure(self, base: Worker, head: Worker, variant: str, plan: PairingPlan,
                tolerance: float, remeasure: int, unstable: Callable[[], str | None]) -> str:
        """Compare head with base as ``compbench compare`` does; an inconclusive answer is
        measured again, at most ``remeasure`` times, rather than guessed."""
        for _ in range(1 + remeasure):
            self.comparisons.append(compare_variant(base, head, variant, plan, tolerance,
                                                    unstable=unstable))
            if self.verdict != INCONCLUSIVE:
                break
        return self.verdict

    @property
    def verdict(self) -> str:
        return verdict(self.last)

    def describe(self) -> str:
        result = self.last
        speed = result.interval.describe() if result.interval else "–"
        deltas = ", ".join(f"{m} {result.head['metrics'][m] - v:+.4f}"
                           for m, v in result.base.get("metrics", {}).items()
                           if m in result.head.get("metrics", {}))
        why = "; ".join(result.problems + result.notes + ([result.not_compared]
                                                           if result.not_compared else []))
        return (f"{self.commit[:12]} {self.subject[:60]!r}: speed vs GOOD {speed}"
                f"{', ' + deltas if deltas else ''} -> {self.verdict}"
                f"{' (' + why + ')' if why else ''}; {len(self.comparisons)} measurement(s), "
                f"{self.builds} cache build(s)")


def verdict(result: VariantComparison) -> str:
    """A probe is bad when compare would call it a regression, good when compare finds nothing,
    inconclusive when compare could not decide (an interval straddling the floor, a drifted
    machine): that one is measured again, never rounded to either side."""
    if result.problems:
        return BAD
    return INCONCLUSIVE if result.notes or result.not_compared else GOOD


@dataclass(frozen=True)
class Outcome:
    """Where the halving ended, as indices into the range (oldest first)."""

    first_bad: int | None = None
    suspects: tuple[int, ...] = ()      # when a probe stayed inconclusive
    bad_is_not_worse: bool = False


def halve(count: int, judge: Callable[[int], str]) -> Outcome:
    """The first bad of ``count`` commits after GOOD, asking ``judge(index)`` for a verdict.

    The last commit (BAD) is judged first: a range whose end is not worse than GOOD has no first
    bad commit, and every later probe would be wasted. Then the commits between the last known
    good (GOOD itself is index -1) and the first known bad are halved, so at most
    ⌈log2 count⌉ + 1 commits are judged when every verdict is decided. An inconclusive commit is
    never rounded to either side (that could name a wrong commit with confidence): it is set
    aside, as ``git bisect skip`` does, and its nearest neighbour to the middle is judged
    instead. If the search then closes on an undecided commit, the answer is the commits still
    in doubt: the undecided ones between the last good and the first bad, and that bad one.
    """
    last = count - 1
    end = judge(last)
    if end == GOOD:
        return Outcome(bad_is_not_worse=True)
    if end == INCONCLUSIVE:
        return Outcome(suspects=tuple(range(count)))
    low, high = -1, last
    undecided: set[int] = set()
    while True:
        open_ = [i for i in range(low + 1, high) if i not in undecided]
        if not open_:
            break
        middle = min(open_, key=lambda i: (abs(i - (low + high) / 2), i))
        found = judge(middle)
        if found == INCONCLUSIVE:
            undecided.add(middle)
            continue
        low, high = (middle, high) if found == GOOD else (low, middle)
    doubt = sorted(i for i in undecided if low < i < high)
    return Outcome(suspects=(*doubt, high)) if doubt else Outcome(first_bad=high)


@dataclass
class Bisection:
    good: str
    commits: list[str]                      # GOOD..BAD, oldest first; the last is BAD
    probes: dict[str, Probe] = field(default_factory=dict)
    first_bad: str | None = None
    suspects: list[str] = field(default_factory=list)   # when a probe stayed undecided
    bad_is_not_worse: bool = False
    noun: str = "commit"                    # what is bisected: commits, or a package's releases

    @property
    def probe_count(self) -> int:
        return len(self.probes)

    @property
    def budget(self) -> int:
        return math.ceil(math.log2(max(len(self.commits), 1))) + 1


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BisectError(f"git {' '.join(args)} in {repo} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def commit_range(repo: Path, good: str, bad: str) -> list[str]:
    """GOOD..BAD oldest first (first-parent: each probe a state the branch really was in)."""
    for ref in (good, bad):
        if subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet",
                           f"{ref}^{{commit}}"], capture_output=True).returncode != 0:
            raise BisectError(f"{ref!r} is not a commit of {repo}: give two commits of it "
                              "(GOOD older than BAD), or --repo for another repository")
    commits = git(repo, "rev-list", "--reverse", "--first-parent", f"{good}..{bad}").split()
    if not commits:
        raise BisectError(f"{good}..{bad} in {repo} has no commits: BAD must descend from GOOD")
    return commits


def cache_entries(cache: Path) -> dict[Path, int]:
    """Each built entry's manifest and when it was written: a snapshot to count builds against
    (a snapshot, not a start time: file times are coarse on some file systems, and an entry
    the previous probe wrote a moment ago must not count as this probe's)."""
    if not cache.is_dir():
        return {}
    return {manifest: manifest.stat().st_mtime_ns for manifest in cache.rglob(ENTRY_FILE)}


def builds_since(cache: Path, before: dict[Path, int]) -> int:
    """Entries written (new, or rebuilt in place) since the snapshot ``before``."""
    return sum(1 for manifest, written in cache_entries(cache).items()
               if before.get(manifest) != written)


class _Worktrees:
    """Detached worktrees of ``repo`` in one temporary folder, each removed after use."""

    def __init__(self, repo: Path, folder: Path):
        self.repo, self.folder = repo, folder

    def add(self, commit: str) -> Path:
        target = self.folder / commit[:12]
        git(self.repo, "worktree", "add", "--detach", str(target), commit)
        return target

    def remove(self, path: Path) -> None:
        subprocess.run(["git", "-C", str(self.repo), "worktree", "remove", "--force", str(path)],
                       capture_output=True)


def bisect(good: str, bad: str, variant: str, plan: PairingPlan, tolerance: float,
           repo: Path = REPO_ROOT, remeasure: int = REMEASURE, python: str = sys.executable,
           log: Callable[[str], None] = print) -> Bisection:
    if remeasure < 0:
        raise BisectError(f"--remeasure {remeasure}: the re-measurements of an inconclusive probe "
                          "are a count, 0 or more (0: an inconclusive probe ends the bisection)")
    repo = Path(repo).resolve()
    found = Bisection(good, commit_range(repo, good, bad))
    cache = resolve_cache_dir()
    with tempfile.TemporaryDirectory(prefix="compbench-bisect-") as workdir:
        trees = _Worktrees(repo, Path(workdir))
        good_tree = trees.add(good)
        good_code = code_of(Side("GOOD", good, python), good_tree)
        base = Worker(Side("GOOD", str(good_tree), python), good_code, Path(workdir) / "good.log")
        try:
            # GOOD's own builds happen here, before any probe, so a probe counts only its own
            before = cache_entries(cache)
            ready = base.ask(cmd="prepare", variant=variant)
            if "error" in ready:
                raise BisectError(f"GOOD ({good}) cannot run {variant}: {ready['error']}; give a "
                                  "GOOD commit whose matrix has this variant and whose code runs it")
            log(f"compbench bisect: GOOD {good} ready for {variant} "
                f"({builds_since(cache, before)} cache build(s))")
            drift = MachineDrift.begin("when GOOD's worker was ready")

            def probe(index: int) -> str:
                commit = found.commits[index]
                step = Probe(commit, git(repo, "log", "-1", "--format=%s", commit))
                tree = trees.add(commit)
                head = Worker(Side("probe", str(tree), python), code_of(Side("probe", commit, python), tree),
                              Path(workdir) / f"{commit[:12]}.log")
                before = cache_entries(cache)
                try:
                    step.measure(base, head, variant, plan, tolerance, remeasure,
                                 drift.unstable_reason)
                finally:
                    head.close()
                    trees.remove(tree)
                step.builds = builds_since(cache, before)
                found.probes[commit] = step
                log(f"compbench bisect: probe {found.probe_count} "
                    f"(commit {index + 1}/{len(found.commits)}): {step.describe()}")
                return step.verdict

            outcome = halve(len(found.commits), probe)
        finally:
            base.close()
            trees.remove(good_tree)
    found.bad_is_not_worse = outcome.bad_is_not_worse
    found.suspects = [found.commits[i] for i in outcome.suspects]
    found.first_bad = None if outcome.first_bad is None else found.commits[outcome.first_bad]
    return found


def render(found: Bisection, variant: str) -> str:
    """The answer: the first bad commit with its subject, its measurement and its parent's."""
    noun = found.noun
    lines = [f"# compbench bisect: {variant}, {len(found.commits)} {noun}(s) after "
             f"{found.good}", ""]
    if found.bad_is_not_worse:
        lines.append(f"BAD ({found.commits[-1][:12]}) is not worse than GOOD for {variant}: "
                     f"no first bad {noun} in the range.")
    elif found.first_bad is None:
        lines.append(f"A probe stayed inconclusive after its re-measurements; the first bad {noun} "
                     f"is one of: {', '.join(c[:12] for c in found.suspects)}.")
    else:
        bad = found.probes[found.first_bad]
        index = found.commits.index(found.first_bad)
        parent = found.probes.get(found.commits[index - 1]) if index else None
        lines += [f"First bad {noun}: {bad.commit} {bad.subject}", "",
                  f"- at it:      {bad.describe()}",
                  (f"- its parent: {parent.describe()}" if parent else
                   f"- its parent: GOOD ({found.good}) itself, the base every probe is timed against")]
    lines += ["", f"{found.probe_count} probe(s) for {len(found.commits)} {noun}(s) (the halving "
              f"needs at most {found.budget} when every probe is decided):",
              ""]
    lines += [f"- {probe.describe()}" for probe in found.probes.values()]
    return "\n".join(lines) + "\n"
