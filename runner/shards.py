"""``--shard K/N``: the selected tests split into N jobs of balanced cold duration.

Why not split by test count or engine family: a job's night is its cached steps (recipe
builds, conversions, evaluations; ``compbench.runner.durations``) and its timing, and those differ by
orders of magnitude between rows. Whole build groups (``compbench.runner.distributed.build_group``: a
row, every engine of it, every chain starting from it) go to one shard, since a chain needs its
row's build; they are placed longest first, each on the shard it makes least loaded (greedy
LPT), counting once a step two groups of one shard share (the fp32 reference that a floor and
a speed-up test also build).

Every job must compute the same split with its own cache, so the split reads the committed
``ci/durations.json`` alone, never this machine's cache, and adds in a fixed order.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from compbench.runner.distributed import FOOTPRINT_TEST, TIMING_TESTS, build_group
from compbench.runner.durations import StepTimes
from compbench.runner.matrix import reference_of
from compbench.runner.results import same_engine_reference
from compbench.specs import Variant

TIMING_STEP = "timing"   # a variant's latency rounds: no cache entry, about the speed budget
_SHARD = re.compile(r"(?P<index>\d+)/(?P<count>\d+)")


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` → (K, N), 1 <= K <= N (argparse ``type=``: a usage error naming the option)."""
    match = _SHARD.fullmatch(text.strip())
    index, count = (int(match["index"]), int(match["count"])) if match else (0, 0)
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(
            f"expected K/N, shard K of N with 1 <= K <= N (e.g. 2/4), got {text!r}")
    return index, count


def variant_steps(variant: Variant, times: StepTimes, timed: bool, footprint: bool) -> set[str]:
    """What running ``variant``'s tests builds cold: its own steps (its footprint if that is
    measured), its fp32 reference's (the floor test evaluates it, the speed test loads it)
    and, if timed, its timing."""
    steps = set(times.steps(variant, ("accuracy", "footprint") if footprint else ("accuracy",)))
    if variant.compression != "fp32":
        reference = same_engine_reference(variant) or reference_of(variant)
        steps |= set(times.steps(reference, ("accuracy",)))
    if timed:
        steps.add(f"{TIMING_STEP}:{variant.id}")
    return steps


def step_seconds(times: StepTimes, timing_s: float) -> Callable[[str], float]:
    return lambda step: timing_s if step.startswith(f"{TIMING_STEP}:") else times.of(step)


def partition(units: Mapping[str, Iterable[str]], seconds: Callable[[str], float],
              count: int) -> list[list[str]]:
    """``units`` (name → the steps it runs) in ``count`` shards: longest unit first, each onto
    the shard whose total it leaves smallest; a step already in a shard costs it nothing."""
    steps = {name: frozenset(found) for name, found in units.items()}

    def cost(found: Iterable[str]) -> float:
        return sum(seconds(step) for step in sorted(found))   # one order: one sum everywhere

    shards: list[list[str]] = [[] for _ in range(count)]
    held: list[set[str]] = [set() for _ in range(count)]
    loads = [0.0] * count
    for name in sorted(steps, key=lambda n: (-cost(steps[n]), n)):
        after = [loads[i] + cost(steps[name] - held[i]) for i in range(count)]
        best = min(range(count), key=lambda i: (after[i], i))
        shards[best].append(name)
        held[best] |= steps[name]
        loads[best] = after[best]
    return shards


def shard_cost(units: Mapping[str, Iterable[str]], names: Iterable[str],
               seconds: Callable[[str], float]) -> float:
    """One shard's estimated seconds: each step its units run, once."""
    return sum(seconds(step) for step in sorted({s for name in names for s in units[name]}))


def _variant_of(item: Any) -> Variant | None:
    callspec = getattr(item, "callspec", None)
    variant = callspec.params.get("variant") if callspec is not None else None
    return variant if isinstance(variant, Variant) else None


def item_units(items: Iterable[Any], times: StepTimes,
               footprint: bool) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Each item's unit (its variant's build group; another test is a unit of its own) and
    each unit's steps (``footprint``: whether footprint tests measure, ``--footprint``)."""
    unit_of: dict[str, str] = {}
    units: dict[str, set[str]] = {}
    tests: dict[Variant, set[str]] = {}
    for item in items:
        variant = _variant_of(item)
        unit = build_group(variant) if variant is not None else item.nodeid
        unit_of[item.nodeid] = unit
        units.setdefault(unit, set())
        if variant is not None:
            tests.setdefault(variant, set()).add(item.nodeid.rpartition("::")[2].partition("[")[0])
    for variant, names in tests.items():
        units[build_group(variant)] |= variant_steps(
            variant, times, timed=bool(names & set(TIMING_TESTS)),
            footprint=footprint and FOOTPRINT_TEST in names)
    return unit_of, units


def select(items: list[Any], index: int, count: int, times: StepTimes, timing_s: float,
           footprint: bool) -> tuple[list[Any], list[Any]]:
    """(the items of shard ``index`` of ``count``, the others), in collection order."""
    unit_of, units = item_units(items, times, footprint)
    mine = set(partition(units, step_seconds(times, timing_s), count)[index - 1])
    kept = [item for item in items if unit_of[item.nodeid] in mine]
    return kept, [item for item in items if unit_of[item.nodeid] not in mine]


def variant_units(variants: Iterable[Variant], times: StepTimes) -> dict[str, set[str]]:
    """Build group → steps, for the gate's tests of ``variants`` (timing included): what
    ``compbench durations --shards N`` previews."""
    units: dict[str, set[str]] = {}
    for variant in variants:
        units.setdefault(build_group(variant), set()).update(
            variant_steps(variant, times, timed=True, footprint=False))
    return units
