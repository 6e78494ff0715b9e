"""How long each variant's cached steps take cold, known before anything is built.

Why: ``-n N`` and ``--shard K/N`` hand whole build groups to a worker or a CI job, and a group
of fine-tuned SCRFD rows costs many times a group of CIFAR PTQ rows; counting tests balances
neither. The cache already times every step it builds (``build_seconds`` in each entry's
manifest), so the estimate is read from there, and from ``ci/durations.json``, the same
figures committed (``compbench durations --write``) for a cold CI whose cache is empty.

A step is named by what identifies it without building: ``recipes:<row>``,
``converted:<row>:<format>``, ``accuracy:<row>:<engine module>:<format>`` (and ``footprint:``
likewise). Engines that share an entry (one conversion for several engines of a format, one
evaluation for two engines of a module) share its name, so a group's cost counts it once.

Manifests are read as JSON and nothing else: their files are not verified (the cache does that
when an entry is used), which is enough for an estimate and costs no hashing of artifacts.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compbench.cache import ENTRY_FILE, as_stored, atomic_write_text, cache_key
from compbench.errors import CompbenchError
from compbench.formats.routes import NoRoute, route
from compbench.project import current
from compbench.runner import matrix
from compbench.runner.matrix import upstream_of
from compbench.specs import Variant

KINDS = ("recipes", "converted", "accuracy", "footprint")
EVALUATIONS = ("accuracy", "footprint")   # each engine's own, from its converted artifact
FILE_VERSION = 1
UNTIMED_SECONDS = 1.0   # a step no kind has a time for: an untimed split balances step counts
WRITE_COMMAND = "compbench durations --write"


class DurationsError(CompbenchError):
    """The committed durations file cannot be read as written by ``compbench durations``."""


@dataclass(frozen=True)
class Recorded:
    """What one cache manifest says about its step."""
    kind: str
    inputs: dict
    value: Any
    digest: str      # the stored files' identity: what the next step's inputs name
    seconds: float
    mtime: float


def read_recorded(root: Path) -> list[Recorded]:
    """Every manifest under ``root`` that recorded its build time (unreadable ones are left to
    the cache, which warns about and rebuilds them when they are used)."""
    found = []
    for kind in KINDS:
        for path in sorted((root / kind).glob(f"*/*/*/{ENTRY_FILE}")):
            if any(part.startswith(".") for part in path.relative_to(root).parts[:-1]):
                continue   # a build in progress
            try:
                meta = json.loads(path.read_text(encoding="utf-8"))
                seconds = float(meta["build_seconds"])
                recorded = Recorded(kind, dict(meta["inputs"]), meta.get("value"),
                                    cache_key(meta["files"]), seconds, path.stat().st_mtime)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if meta.get("kind") == kind and math.isfinite(seconds) and seconds >= 0:
                found.append(recorded)
    return found


def row_name(variant: Variant) -> str:
    return f"{variant.model.name}/{variant.compression}"


def _engine(variant: Variant) -> tuple[str, str]:
    """The engine's artifact format and module (what its evaluations are keyed by)."""
    from compbench.engines.registry import engine_config

    spec = engine_config(variant.engine)
    return spec.artifact_format, spec.key


def _guessed_format(variant: Variant) -> str:
    """A row nothing has built yet: its model's reference engine's format names its steps."""
    from compbench.engines.registry import engine_config

    return engine_config(variant.model.reference_engine).artifact_format


def _conversions(source: str, target: str) -> list[str]:
    try:
        return route(source, target)
    except NoRoute:   # only for a guessed source format: one conversion
        return [target]


def _groups(step: str) -> tuple[tuple[str, ...], ...]:
    """The steps a step's time is guessed from when it has none: (kind, model), then kind."""
    kind, _, rest = step.partition(":")
    return (kind, rest.partition("/")[0]), (kind,)


def _preference(recipe: Recorded, variant: Variant, here: str | None) -> tuple:
    """Sort key: the build of the row's current recipe and parameters on this hardware class,
    the newest first."""
    params = as_stored(dict(variant.params)) if variant.params else None
    return (recipe.inputs.get("recipe") != variant.recipe, recipe.inputs.get("params") != params,
            recipe.inputs.get("hardware_class") != here, -recipe.mtime)


def _current_class() -> str | None:
    from compbench import hardware

    try:
        return hardware.current().hardware_class
    except Exception:  # noqa: BLE001 - an estimate needs no hardware class; pytest reports it
        return None


@dataclass
class StepTimes:
    """Seconds of each named step, and the artifact format of each row's recipe."""
    seconds: dict[str, float] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)

    # -- what a variant needs ------------------------------------------------------------
    def steps(self, variant: Variant, evaluations: Iterable[str] = EVALUATIONS) -> list[str]:
        """The steps a cold run of ``variant`` builds: its row's recipe and those of the rows
        its chain starts from, the conversions to its engine's format, its evaluations."""
        names, walked = [], variant
        while walked is not None:
            names.append(f"recipes:{row_name(walked)}")
            walked = upstream_of(walked)
        row = row_name(variant)
        target, module = _engine(variant)
        source = self.formats.get(row) or _guessed_format(variant)
        formats = _conversions(source, target)
        names += [f"converted:{row}:{fmt}" for fmt in formats]
        final = formats[-1] if formats else source
        return names + [f"{kind}:{row}:{module}:{final}" for kind in evaluations]

    def of(self, step: str) -> float:
        """Its recorded seconds, else the median of its kind's for its model (a detector's
        steps are not a CIFAR model's), else of its kind's, else ``UNTIMED_SECONDS``."""
        if step in self.seconds:
            return self.seconds[step]
        medians = self._medians()
        for group in _groups(step):
            if group in medians:
                return medians[group]
        return UNTIMED_SECONDS

    def total(self, steps: Iterable[str]) -> float:
        """Each step once, added in one order (the same sum in every process)."""
        return sum(self.of(step) for step in sorted(set(steps)))

    def _medians(self) -> dict[tuple[str, ...], float]:
        grouped: dict[tuple[str, ...], list[float]] = {}
        for step, seconds in self.seconds.items():
            for group in _groups(step):
                grouped.setdefault(group, []).append(seconds)
        return {group: statistics.median(values) for group, values in grouped.items()}

    def measured(self, variant: Variant) -> int:
        """How many of the variant's steps have a time of their own."""
        return sum(step in self.seconds for step in self.steps(variant))

    # -- where the times come from -------------------------------------------------------
    @classmethod
    def from_cache(cls, root: Path, variants: Iterable[Variant] | None = None) -> StepTimes:
        """The times the cache at ``root`` recorded for ``variants``' steps. A row built more
        than once (another hardware class, older parameters) is read from the build that
        matches the row's recipe and parameters and this machine's class, newest first."""
        recorded = read_recorded(root)
        recipes: dict[tuple, list[Recorded]] = {}
        children: dict[tuple, Recorded] = {}
        for entry in recorded:
            inputs = entry.inputs
            if entry.kind == "recipes":
                model = inputs.get("model")
                name = model.get("name") if isinstance(model, dict) else None
                recipes.setdefault((name, inputs.get("compression")), []).append(entry)
                continue
            if entry.kind == "converted":
                key = (entry.kind, inputs.get("from"), inputs.get("to"))
            else:
                key = (entry.kind, inputs.get("artifact"), inputs.get("engine"), inputs.get("format"))
            if key not in children or children[key].mtime < entry.mtime:
                children[key] = entry
        here = _current_class()
        times = cls()
        for variant in matrix.variants().values() if variants is None else variants:
            row = row_name(variant)
            for recipe in sorted(recipes.get((variant.model.name, variant.compression), []),
                                 key=lambda entry, v=variant: _preference(entry, v, here)):
                source = recipe.value.get("format") if isinstance(recipe.value, dict) else None
                if not isinstance(source, str) or times.formats.get(row, source) != source:
                    continue
                times.formats[row] = source
                times.seconds.setdefault(f"recipes:{row}", recipe.seconds)
                times._walk(variant, recipe, children)
        return times

    def _walk(self, variant: Variant, recipe: Recorded, children: Mapping[tuple, Recorded]) -> None:
        """Record the times of the conversions and evaluations built from ``recipe``."""
        row = row_name(variant)
        target, module = _engine(variant)
        digest, current = recipe.digest, self.formats[row]
        for fmt in _conversions(current, target):
            found = children.get(("converted", digest, fmt))
            if found is None:
                return
            self.seconds.setdefault(f"converted:{row}:{fmt}", found.seconds)
            digest, current = found.digest, fmt
        for kind in EVALUATIONS:
            found = children.get((kind, digest, module, current))
            if found is not None:
                self.seconds.setdefault(f"{kind}:{row}:{module}:{current}", found.seconds)

    def over(self, older: StepTimes) -> StepTimes:
        """These times, and ``older``'s for the steps and rows these lack."""
        return StepTimes({**older.seconds, **self.seconds}, {**older.formats, **self.formats})

    def kept_for(self, variants: Iterable[Variant]) -> StepTimes:
        """Only what ``variants`` use (a removed row's times go with it)."""
        variants = list(variants)
        rows = {row_name(v) for v in variants}
        formats = {row: fmt for row, fmt in self.formats.items() if row in rows}
        used = {step for v in variants for step in StepTimes({}, formats).steps(v)}
        return StepTimes({s: t for s, t in self.seconds.items() if s in used}, formats)

    # -- the committed file --------------------------------------------------------------
    @classmethod
    def read(cls, path: Path | None = None) -> StepTimes:
        """The committed times (none when the file does not exist yet); by default the
        project's ``ci/durations.json``."""
        path = path or current().durations_file
        if not path.exists():
            return cls()
        fix = f"regenerate it with `{WRITE_COMMAND}` (or restore it: git checkout -- {path.name})"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DurationsError(f"durations file {path} cannot be read ({exc}); {fix}") from None
        if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
            raise DurationsError(f"durations file {path} is not version {FILE_VERSION} of the "
                                 f"format `{WRITE_COMMAND}` writes; {fix}")
        seconds, formats = data.get("seconds"), data.get("formats")
        if not (isinstance(seconds, dict) and isinstance(formats, dict)
                and all(isinstance(v, str) for v in formats.values())
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) and v >= 0 for v in seconds.values())):
            raise DurationsError(f"durations file {path}: \"seconds\" must map step names to "
                                 "finite numbers >= 0 and \"formats\" rows to format names; "
                                 + fix)
        return cls({str(k): float(v) for k, v in seconds.items()}, dict(formats))

    def write(self, path: Path | None = None) -> None:
        path = path or current().durations_file
        data = {
            "about": f"Generated by `{WRITE_COMMAND}` from an artifact cache: the seconds each "
                     "cached step took to build cold, and each row's recipe format. Read by "
                     "`pytest --shard K/N` and `-n N` (docs/sharding.md). Do not edit by hand.",
            "version": FILE_VERSION,
            "formats": dict(sorted(self.formats.items())),
            "seconds": {step: round(seconds, 1) for step, seconds in sorted(self.seconds.items())},
        }
        atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n", mode=0o644)


def load(cache_dir: Path | None, path: Path | None = None) -> StepTimes:
    """The best estimate this machine has: its cache's times over the committed ones."""
    committed = StepTimes.read(path)
    if cache_dir is None or not cache_dir.is_dir():
        return committed
    return StepTimes.from_cache(cache_dir).over(committed)
