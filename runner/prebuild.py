"""Fill the cache for a session's variants side by side, before the first test needs them.

Why: cold, nearly all of a session's time is cached steps (recipe builds, conversions,
accuracy evaluations), each a single-threaded process (``compbench.isolation``); on a 2-core
machine two of them run at once for twice the throughput. The order is the tests' order, one
recipe group at a time (a recipe serves every engine of its row), and per-entry locks in the
cache make two workers needing the same entry wait for one build. The result does not depend on
whether the prebuild ran: the same steps run the same way inside the tests.

Failures are not reported here: the test that needs the entry runs the step again and fails or
skips with the real error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from compbench.isolation import LOG_MARKER
from compbench.runner.pipeline import VariantPipeline


def recipe_groups(pipelines: Iterable[VariantPipeline]) -> list[list[VariantPipeline]]:
    groups: dict[str, list[VariantPipeline]] = {}
    for pipeline in pipelines:
        groups.setdefault(pipeline.build_group, []).append(pipeline)
    return list(groups.values())


def _fill(group: list[VariantPipeline], footprint: bool) -> list[tuple[str, str | None]]:
    outcomes = []
    for pipeline in group:
        try:
            pipeline.convert()
            pipeline.accuracy()
            if footprint:
                _ = pipeline.footprint
            outcomes.append((pipeline.variant.id, None))
        except Exception as exc:  # noqa: BLE001 - re-raised by the test that needs it
            outcomes.append((pipeline.variant.id, one_line(exc)))
    return outcomes


def one_line(exc: Exception) -> str:
    """A failure as one progress line: the error's first line and, when it carries a step
    process's log, that log's last line — the cause (a crash, a missing file) sits at the end of
    the log, so cutting the whole message at a length would lose exactly that."""
    head, _, log = str(exc).partition(LOG_MARKER)
    text = f"{type(exc).__name__}: {head.strip().splitlines()[0][:200] if head.strip() else ''}"
    last = [line.strip() for line in log.splitlines() if line.strip()]
    return f"{text} … its log ends: {last[-1][:160]}" if last else text


def prebuild(pipelines: list[VariantPipeline], jobs: int,
             log: Callable[[str], None] = print, footprint: bool = False) -> None:
    """Build, convert and evaluate ``pipelines`` (prepared) in ``jobs`` parallel step processes;
    measure their footprint too when the session reports it (``--footprint``)."""
    groups = recipe_groups(pipelines)
    if not groups:
        return
    log(f"compbench: preparing {len(pipelines)} variant(s) ({len(groups)} recipe builds) in "
        f"{jobs} parallel step process(es); cached steps are reused")
    started, done = time.monotonic(), 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_fill, group, footprint) for group in groups]
        for future in as_completed(futures):
            for variant_id, problem in future.result():
                done += 1
                state = "ready" if problem is None else f"not prepared ({problem})"
                log(f"compbench: [{done}/{len(pipelines)}] {variant_id} {state} "
                    f"({time.monotonic() - started:.0f} s)")
