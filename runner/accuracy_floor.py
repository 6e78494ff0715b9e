"""Accuracy floors: is a variant acceptable at all, relative to its fp32 model?

The baseline check (``runner.baselines``) asks whether a variant *changed* since it was
recorded, so a variant recorded at a poor accuracy passes it forever. A floor asks what a
release asks, as MLPerf Inference (a closed-division result keeps ≥ 99 % of the fp32
reference's accuracy) and Intel Neural Compressor (relative loss ≤ 1 %) state it: the variant's
accuracy as a fraction of its fp32 model's, both measured in the same session on the same data,
on the same engine where the fp32 model runs there.

Floors are data of the baseline file: ``"floors"`` holds one per model (the metric, the
fraction, why that fraction), and ``"below_floor_accepted"`` the rows (``model/compression``)
known to sit below it, each with its reason. An accepted row is reported BELOW FLOOR and
counted as an expected failure (xfail); once it meets the floor it passes with a
``StaleAcceptance`` warning, so an acceptance that outlived its reason is seen. A profile file
without floors uses the default profile's: a fraction of fp32 does not depend on how many
images measured it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

FLOORS = "floors"
ACCEPTED = "below_floor_accepted"


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
    for row, reason in accepted.items():
        if row.count("/") != 1:
            bad(f'"{ACCEPTED}"["{row}"]: a row is "model/compression"')
        if not isinstance(reason, str) or not reason.strip():
            bad(f'"{ACCEPTED}"["{row}"] must give the reason the row is accepted below its floor')


def floor_of(data: dict, model: str) -> Floor | None:
    entry = data.get(FLOORS, {}).get(model)
    return entry and Floor(model, entry["metric"], float(entry["fraction"]), entry["why"])


def judge(data: dict, variant_id: str, model: str, measured: dict[str, float],
          reference_id: str, reference: dict[str, float]) -> FloorVerdict | None:
    """The verdict of one variant, or None when its model has no floor."""
    floor = floor_of(data, model)
    if floor is None:
        return None
    return FloorVerdict(variant_id, floor, measured[floor.metric], reference_id,
                        reference[floor.metric], data.get(ACCEPTED, {}).get(row_of(variant_id)))
