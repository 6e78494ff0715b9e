"""A bisection as an alert a person can act on: one markdown file fit to be an issue body.

``compbench bisect`` prints what it measured for the one who ran it; the team reading an issue
the next morning needs the answer first — which variant, which metric, which commit — then the
evidence, then the exact commands that reproduce it on their own machine, so nobody has to
reconstruct the range or the options from a CI log.
"""

from __future__ import annotations

import shlex

from compbench.runner.bisect import Bisection, Probe
from compbench.runner.compare import VariantComparison


def regressed_metrics(result: VariantComparison) -> list[str]:
    """What compare found worse, by the subject its problem messages start with."""
    names = []
    for problem in result.problems:
        first = problem.split()[0]
        name = {"speed": "speed", "size": "size", "head": "runs at all"}.get(first, first)
        if name not in names:
            names.append(name)
    return names


def _row(probe: Probe, first_bad: str | None, parent: str | None) -> str:
    result = probe.last
    speed = (f"{result.interval.estimate:.3f}× [{result.interval.low:.3f}, "
             f"{result.interval.high:.3f}]" if result.interval else "–")
    deltas = ", ".join(f"{m} {result.head['metrics'][m] - v:+.4f}"
                       for m, v in result.base.get("metrics", {}).items()
                       if m in result.head.get("metrics", {})) or "–"
    role = {first_bad: "**first bad**", parent: "parent"}.get(probe.commit, "")
    subject = probe.subject.replace("|", "\\|")
    return (f"| `{probe.commit[:12]}` {role} | {subject} | {speed} | {deltas} | "
            f"{len(probe.comparisons)} | {probe.builds} | {probe.verdict} |")


def render_alert(found: Bisection, variant: str, bad: str, command: list[str],
                 report_url: str | None = None) -> str:
    """``bad``: BAD as it was given (a ref); ``command``: the bisect command line that ran."""
    first = found.probes.get(found.first_bad) if found.first_bad else None
    index = found.commits.index(found.first_bad) if found.first_bad else -1
    parent = found.commits[index - 1] if index > 0 else None
    if first is not None:
        metrics = ", ".join(regressed_metrics(first.last)) or "–"
        title = f"{variant}: {metrics} regressed at {first.commit[:12]} ({first.subject})"
    elif found.bad_is_not_worse:
        title = f"{variant}: {bad} is not worse than {found.good} (no regression to bisect)"
    else:
        title = f"{variant}: undecided between {len(found.suspects)} commit(s)"
    lines = [f"# compbench bisect: {title}", "",
             "| | |", "|---|---|",
             f"| variant | `{variant}` |",
             f"| range | `{found.good}..{bad}` ({len(found.commits)} commit(s), "
             f"{found.probe_count} probed) |"]
    if first is not None:
        lines += [f"| metric | {metrics} |",
                  f"| first bad commit | `{first.commit}` {first.subject} |",
                  f"| parent | `{parent or found.good}`"
                  f"{'' if parent else ' (GOOD itself)'} |"]
    elif found.suspects:
        lines.append(f"| suspects | {', '.join(f'`{c[:12]}`' for c in found.suspects)} |")
    if report_url:
        lines.append(f"| report | {report_url} |")
    lines += ["", "## Evidence", "",
              "Each probe timed interleaved against GOOD in one job (`compbench compare`'s "
              "statistics): speed relative to GOOD with its 95 % interval (<1: slower), accuracy "
              "differences, measurements (more than 1: re-measured after an inconclusive one), "
              "cache builds.", "",
              "| commit | subject | speed vs GOOD | accuracy Δ | measurements | builds | verdict |",
              "|---|---|---|---|---|---|---|"]
    lines += [_row(probe, found.first_bad, parent)
              for probe in sorted(found.probes.values(),
                                  key=lambda p: found.commits.index(p.commit))]
    lines += ["", "## Reproduce", "", "```sh", shlex.join(command)]
    if first is not None:
        lines.append(shlex.join(["compbench", "compare", parent or found.good, first.commit,
                                 variant]))
    lines += ["```", ""]
    return "\n".join(lines)
