"""Accuracy floors: is a variant acceptable at all, relative to its fp32 model?

The baseline check (``compbench.runner.baselines``) asks whether a variant *changed* since it was
recorded, so a variant recorded at a poor accuracy passes it forever. A floor asks what a
release asks, as MLPerf Inference (a closed-division result keeps ≥ 99 % of the fp32
reference's accuracy) and Intel Neural Compressor (relative loss ≤ 1 %) state it: the variant's
accuracy as a fraction of its fp32 model's, both measured in the same session on the same data,
on the same engine where the fp32 model runs there.

Floors are data of the baseline file: ``"floors"`` holds one per model (the metric, the
fraction, why that fraction), and ``"below_floor_accepted"`` the rows (``model/compression``)
known to sit below it, each with its reason: one text for every hardware class, or an object
``{class: reason}`` when the row is below only where the int8 kernels lose precision (an
AVX2-only CPU), so that a class where the row meets its floor is gated by it. An accepted row
is reported BELOW FLOOR and counted as an expected failure (xfail); once it meets the floor it
passes with a ``StaleAcceptance`` warning (or fails, under ``--strict-acceptances``), so an
acceptance that outlived its reason is seen. A profile file without floors uses the default
profile's: a fraction of fp32 does not depend on how many images measured it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from compbench.hardware import INT8_TIERS

FLOORS = "floors"
ACCEPTED = "below_floor_accepted"
EVERY_CLASS = "every hardware class"
TIERS = (*(name for name, _ in INT8_TIERS), "generic")
# as compbench.hardware.classify names a class: the architecture, then the best int8 tier
CLASS_SHAPE = re.compile(rf"^[a-z0-9_]+-(?:{'|'.join(re.escape(t) for t in TIERS)})$")


class StaleAcceptance(UserWarning):
    """A row accepted below its floor meets it now (listed in the summary)."""


@dataclass(frozen=True)
class Floor:
    model: str
    metric: str
    fraction: float   # of the fp32 model's value of ``metric``
    why: str


@dataclass(frozen=True)
class FloorVerdict:
    """One variant against its model's floor; ``accepted`` is the file's reason when the row is
    known to sit below it."""

    variant_id: str
    floor: Floor
    measured: float
    reference_id: str
    reference_value: float
    accepted: str | None = None

    @property
    def fraction(self) -> float:
        return self.measured / self.reference_value if self.reference_value else float("nan")

    @property
    def valid(self) -> bool:
        return self.fraction >= self.floor.fraction

    def margin(self) -> float:
        """How far the measured value is above the floor, in the metric's own units."""
        return self.measured - self.floor.fraction * self.reference_value

    @property
    def label(self) -> str:
        """The report cell."""
        if self.valid:
            return f"VALID {self.fraction:.2%}"
        return (f"BELOW FLOOR {self.fraction:.2%} < {self.floor.fraction:.0%}"
                + (" (accepted)" if self.accepted else ""))

    def describe(self, source: str) -> str:
        return (f"{self.variant_id}: {self.floor.metric} {self.measured:.4f} is "
                f"{self.fraction:.2%} of fp32's {self.reference_value:.4f} "
                f"({self.reference_id}, this session); the floor is "
                f"{self.floor.fraction:.0%} of fp32 ({source} {FLOORS}[\"{self.floor.model}\"]: "
                f"{self.floor.why})")


def row_of(variant_id: str) -> str:
    """``model/compression``: an acceptance holds for the row on every engine."""
    return variant_id.rsplit("/", 1)[0]


def acceptance(data: dict, row: str, hardware_class: str) -> str | None:
    """The reason ``row`` is accepted below its floor on ``hardware_class``, if it is there."""
    entry = data.get(ACCEPTED, {}).get(row)
    return entry.get(hardware_class) if isinstance(entry, dict) else entry


def accepted_classes(data: dict, row: str) -> str | None:
    """Where ``row`` is accepted, for a message: the classes it names, or every class."""
    entry = data.get(ACCEPTED, {}).get(row)
    if entry is None:
        return None
    return ", ".join(sorted(entry)) if isinstance(entry, dict) else EVERY_CLASS


def parse(data: dict, bad: Callable[[str], None], known_metrics: tuple[str, ...]) -> None:
    """Check the file's floors, calling ``bad`` with the key at fault."""
    floors = data.get(FLOORS, {})
    if not isinstance(floors, dict):
        bad(f'"{FLOORS}" must be an object of models')
    for model, floor in floors.items():
        where = f'"{FLOORS}"["{model}"]'
        if not isinstance(floor, dict) or set(floor) != {"metric", "fraction", "why"}:
            bad(f'{where} must be {{"metric": name, "fraction": number, "why": text}}')
        if floor["metric"] not in known_metrics:
            bad(f'{where}["metric"]: unknown metric {floor["metric"]!r} '
                f'(known: {", ".join(known_metrics)})')
        fraction = floor["fraction"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
                or not 0 < fraction <= 1:
            bad(f'{where}["fraction"] must be a number in (0, 1], got {fraction!r}')
        if not isinstance(floor["why"], str) or not floor["why"].strip():
            bad(f'{where}["why"] must say why this floor')
    accepted = data.get(ACCEPTED, {})
    if not isinstance(accepted, dict):
        bad(f'"{ACCEPTED}" must be an object of rows (model/compression)')
    for row, reasons in accepted.items():
        where = f'"{ACCEPTED}"["{row}"]'
        if row.count("/") != 1:
            bad(f'{where}: a row is "model/compression"')
        if isinstance(reasons, dict):
            if not reasons:
                bad(f'{where} names no hardware class: give {{class: reason}} for the classes '
                    'where the row is below its floor, or one reason for every class')
            for hardware_class, reason in reasons.items():
                if not CLASS_SHAPE.match(hardware_class):
                    bad(f'{where}: {hardware_class!r} is not a hardware class (one is '
                        f'<architecture>-<int8 tier> as compbench/hardware.py names it, e.g. '
                        f'x86_64-avx2; tiers: {", ".join(TIERS)}; a CPU model '
                        '"<class>/<cpu>" is not one)')
                _reason(f'{where}["{hardware_class}"]', reason, bad)
        else:
            _reason(where, reasons, bad)


def _reason(where: str, reason, bad: Callable[[str], None]) -> None:
    if not isinstance(reason, str) or not reason.strip():
        bad(f'{where} must give the reason the row is accepted below its floor (a text, or an '
            'object {hardware class: text})')


def floor_of(data: dict, model: str) -> Floor | None:
    entry = data.get(FLOORS, {}).get(model)
    return entry and Floor(model, entry["metric"], float(entry["fraction"]), entry["why"])


def judge(data: dict, variant_id: str, model: str, measured: dict[str, float],
          reference_id: str, reference: dict[str, float],
          hardware_class: str) -> FloorVerdict | None:
    """The verdict of one variant on ``hardware_class``, or None when its model has no floor."""
    floor = floor_of(data, model)
    if floor is None:
        return None
    return FloorVerdict(variant_id, floor, measured[floor.metric], reference_id,
                        reference[floor.metric],
                        acceptance(data, row_of(variant_id), hardware_class))
