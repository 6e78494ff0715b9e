"""Per-variant results gathered during a session, rendered once into the comparison table.

Each result also converts to and from plain JSON data (``to_dict``/``from_dict``), field by
field and checked on the way in, because results files travel between machines and a file
handed to ``compbench merge`` is data, never code (docs/results-schema.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compbench.paired_statistics import RatioInterval
from compbench.runner.accuracy_floor import Floor, FloorVerdict
from compbench.runner.matrix import reference_of, variants
from compbench.specs import Variant


def same_engine_reference(variant: Variant) -> Variant | None:
    return variants().get(f"{variant.model.name}/fp32/{variant.engine}")


@dataclass(frozen=True)
class LatencySummary:
    """A latency test's rounds, in ms: the tail (p90, p99) is what a user of the model waits
    for on a busy machine, the minimum what the cross-engine ratio uses (least disturbed)."""

    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    iqr_ms: float

    @classmethod
    def of(cls, rounds_s) -> LatencySummary:
        ms = np.asarray(rounds_s, dtype=float) * 1e3
        p25, p50, p75, p90, p99 = np.percentile(ms, [25, 50, 75, 90, 99])
        return cls(float(ms.min()), float(p50), float(p90), float(p99), float(p75 - p25))

    def to_dict(self) -> dict:
        return {"min_ms": self.min_ms, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
                "p99_ms": self.p99_ms, "iqr_ms": self.iqr_ms}

    @classmethod
    def from_dict(cls, data, where: str) -> LatencySummary:
        return cls(*(number(data, key, where) for key in
                     ("min_ms", "p50_ms", "p90_ms", "p99_ms", "iqr_ms")))


@dataclass
class VariantResult:
    variant: Variant
    threads: int | None = None
    latency: LatencySummary | None = None
    paired_speedup: float | None = None   # vs fp32 on the same engine, see paired_timing.py
    speedup_interval: RatioInterval | None = None  # its 95 % confidence interval
    size_bytes: int | None = None
    gzip_size_bytes: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_deltas: dict[str, float] = field(default_factory=dict)
    # metric → what it was gated against: "shared", a hardware class, "<class> (nearest)"
    baseline_basis: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)   # metric → Check.verdict
    # runner.steps.footprint: rss_before_mb, peak_rss_mb, startup_s (fresh process, one thread)
    footprint: dict[str, float] = field(default_factory=dict)
    throughput: dict[int, float] = field(default_factory=dict)   # batch size → images/s
    # the accuracy step's whole evaluation (reading, pre- and post-processing included, one
    # thread, when its cache entry was built): what scales to a larger data set's eval time
    eval_images_per_s: float | None = None
    floor: FloorVerdict | None = None     # accuracy as a fraction of fp32's, vs the floor
    # what the evaluated session executed (runner/census.py): int8/float op counts, kernel measure
    census: dict[str, float] = field(default_factory=dict)
    not_gated: str | None = None          # why the variant could not run here (a skip)
    inconclusive: list[str] = field(default_factory=list)  # checks that could not decide

    def to_dict(self) -> dict:
        """Every field but the variant (a results file keys its results by variant id)."""
        return {
            "threads": self.threads,
            "latency": self.latency.to_dict() if self.latency else None,
            "paired_speedup": self.paired_speedup,
            "speedup_interval": (interval_to_dict(self.speedup_interval)
                                 if self.speedup_interval else None),
            "size_bytes": self.size_bytes,
            "gzip_size_bytes": self.gzip_size_bytes,
            "metrics": dict(self.metrics),
            "baseline_deltas": dict(self.baseline_deltas),
            "baseline_basis": dict(self.baseline_basis),
            "verdicts": dict(self.verdicts),
            "footprint": dict(self.footprint),
            "throughput": {str(batch): rate for batch, rate in self.throughput.items()},
            "eval_images_per_s": self.eval_images_per_s,
            "floor": floor_verdict_to_dict(self.floor) if self.floor else None,
            "census": dict(self.census),
            "not_gated": self.not_gated,
            "inconclusive": list(self.inconclusive),
        }

    @classmethod
    def from_dict(cls, variant: Variant, data, where: str) -> VariantResult:
        """A field absent from ``data`` keeps its default (a file of an older minor format
        version lacks the fields added since); one of the wrong type is ``Malformed``."""
        mapping(data, where)
        latency = optional(data, "latency", where, LatencySummary.from_dict)
        interval = optional(data, "speedup_interval", where, interval_from_dict)
        floor = optional(data, "floor", where, floor_verdict_from_dict)
        throughput = {}
        for batch, rate in (optional(data, "throughput", where, number_map) or {}).items():
            if not batch.isdigit():
                raise Malformed(f"{where}.throughput: batch size {batch!r} is not a whole number")
            throughput[int(batch)] = rate
        return cls(
            variant,
            threads=optional(data, "threads", where, whole),
            latency=latency,
            paired_speedup=optional(data, "paired_speedup", where, real),
            speedup_interval=interval,
            size_bytes=optional(data, "size_bytes", where, whole),
            gzip_size_bytes=optional(data, "gzip_size_bytes", where, whole),
            metrics=optional(data, "metrics", where, number_map) or {},
            baseline_deltas=optional(data, "baseline_deltas", where, number_map) or {},
            baseline_basis=optional(data, "baseline_basis", where, text_map) or {},
            verdicts=optional(data, "verdicts", where, text_map) or {},
            footprint=optional(data, "footprint", where, number_map) or {},
            throughput=throughput,
            eval_images_per_s=optional(data, "eval_images_per_s", where, real),
            floor=floor,
            census=optional(data, "census", where, number_map) or {},
            not_gated=optional(data, "not_gated", where, text),
            inconclusive=optional(data, "inconclusive", where, text_list) or [],
        )


# --- JSON conversions of the nested values, and the checks that read them back --------------


class Malformed(ValueError):
    """A value read from a results file is missing or of the wrong type; the message is the
    value's path in the file (``results["x"].latency.min_ms``) and what is wrong with it."""


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def mapping(data, where: str) -> dict:
    if not isinstance(data, dict):
        raise Malformed(f"{where}: expected an object, found {_kind(data)}")
    return data


def real(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{where}: expected a number, found {_kind(value)}")
    return float(value)


def whole(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{where}: expected a whole number, found {_kind(value)}")
    return value


def text(value, where: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{where}: expected a string, found {_kind(value)}")
    return value


def number_map(value, where: str) -> dict[str, float]:
    return {key: real(item, f"{where}[{key!r}]") for key, item in mapping(value, where).items()}


def text_map(value, where: str) -> dict[str, str]:
    return {key: text(item, f"{where}[{key!r}]") for key, item in mapping(value, where).items()}


def text_list(value, where: str) -> list[str]:
    if not isinstance(value, list):
        raise Malformed(f"{where}: expected a list, found {_kind(value)}")
    return [text(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def required(data: dict, key: str, where: str, convert):
    """``data[key]`` converted; ``where`` is the path of ``data`` ("" for the document)."""
    if key not in mapping(data, where or "the document"):
        raise Malformed(f"{_path(where, key)}: missing")
    return convert(data[key], _path(where, key))


def optional(data: dict, key: str, where: str, convert):
    """``None`` when absent or null, else the converted value."""
    value = mapping(data, where or "the document").get(key)
    return None if value is None else convert(value, _path(where, key))


def number(data: dict, key: str, where: str) -> float:
    return required(data, key, where, real)


def interval_to_dict(interval: RatioInterval) -> dict:
    return {"estimate": interval.estimate, "low": interval.low, "high": interval.high,
            "rounds": interval.rounds, "confidence": interval.confidence}


def interval_from_dict(data, where: str) -> RatioInterval:
    return RatioInterval(number(data, "estimate", where), number(data, "low", where),
                         number(data, "high", where), required(data, "rounds", where, whole),
                         number(data, "confidence", where))


def floor_verdict_to_dict(verdict: FloorVerdict) -> dict:
    floor = verdict.floor
    return {"variant_id": verdict.variant_id,
            "floor": {"model": floor.model, "metric": floor.metric, "fraction": floor.fraction,
                      "why": floor.why},
            "measured": verdict.measured, "reference_id": verdict.reference_id,
            "reference_value": verdict.reference_value, "accepted": verdict.accepted}


def floor_verdict_from_dict(data, where: str) -> FloorVerdict:
    floor = required(data, "floor", where, mapping)
    at = f"{where}.floor"
    return FloorVerdict(
        required(data, "variant_id", where, text),
        Floor(required(floor, "model", at, text), required(floor, "metric", at, text),
              number(floor, "fraction", at), required(floor, "why", at, text)),
        number(data, "measured", where), required(data, "reference_id", where, text),
        number(data, "reference_value", where), optional(data, "accepted", where, text))


class Ledger:
    """Session-wide store the bench tests write into and the terminal summary reads."""

    def __init__(self) -> None:
        self.results: dict[str, VariantResult] = {}

    def __getitem__(self, variant: Variant) -> VariantResult:
        if variant.id not in self.results:
            self.results[variant.id] = VariantResult(variant)
        return self.results[variant.id]

    def speedup(self, result: VariantResult, reference: Variant | None = None) -> float | None:
        """Latency ratio to a reference variant (default: the model's fp32 reference) measured
        in this same session.

        Ratio of the *minimum* round times: on a shared machine the minimum is the round least
        disturbed by neighbours, so it is far more stable than the median (which is reported).
        """
        reference = reference or reference_of(result.variant)
        baseline = self.results.get(reference.id)
        if not baseline or not baseline.latency or not result.latency:
            return None
        return baseline.latency.min_ms / result.latency.min_ms

    def measured_for_baseline(self) -> dict[str, dict[str, float]]:
        values: dict[str, dict[str, float]] = {}
        for variant_id, result in self.results.items():
            entry = {metric: round(value, 6) for metric, value in result.metrics.items()}
            if result.size_bytes is not None:
                entry["size_bytes"] = result.size_bytes
            speedup = result.paired_speedup
            if speedup is not None and result.variant.compression != "fp32":
                entry["speedup"] = round(speedup, 3)
            if result.gzip_size_bytes is not None:
                entry["size_gzip_bytes"] = result.gzip_size_bytes
            entry.update(result.census)   # counts stay whole numbers, fractions are rounded
            if entry:
                values[variant_id] = entry
        return values
