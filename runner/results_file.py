"""A session's results as one payload, so that parts measured apart make one report.

Two producers: an xdist worker sends its payload to the controller (``runner.distributed``), and
every session writes its own next to its report (``results-<stamp>.pkl``), so the jobs of a CI
matrix that split the variants between them (one per engine family, one per model) can be
folded into one table by ``compbench merge``. Pickled, because a ledger holds dataclasses and
both ends run the same commit; the payload says which commit and machine produced it, and a
merge names every source in its header.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields
from pathlib import Path

from compbench import hardware
from compbench.errors import CompbenchError
from runner.matrix import VARIANTS
from runner.results import Ledger

FORMAT = 1


@dataclass
class Payload:
    results: dict              # variant id -> VariantResult
    notes: dict                # model -> the data it was measured on
    drift: object | None       # MachineDrift of the process that timed, if it did
    machine: hardware.Hardware
    origin: dict               # provenance: commit, date, command
    format: int = FORMAT


def payload(ledger: Ledger, notes: dict, drift, origin: dict) -> bytes:
    return pickle.dumps(Payload(ledger.results, notes, drift, hardware.current(), origin))


def parse(data: bytes, source: str) -> Payload:
    try:
        found = pickle.loads(data)   # noqa: S301 - written by this project, same commit
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
        raise CompbenchError(f"{source}: not a compbench results file ({type(exc).__name__}: "
                             f"{exc}); it is written next to each report as results-<stamp>.pkl"
                             ) from None
    if not isinstance(found, Payload) or found.format != FORMAT:
        raise CompbenchError(f"{source}: not a compbench results file of format {FORMAT}: "
                             "write it again with this commit (pytest bench)")
    unknown = sorted(set(found.results) - set(VARIANTS))
    if unknown:
        raise CompbenchError(f"{source}: variants this commit does not know ({', '.join(unknown)}): "
                             "merge results of the commit that wrote them")
    return found


def read(path: Path) -> Payload:
    try:
        return parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise CompbenchError(f"cannot read results file {path} ({exc.strerror})") from None


def write(data: bytes, directory: Path, stamp: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"results-{stamp}.pkl"
    path.write_bytes(data)
    (directory / "latest-results.pkl").write_bytes(data)
    return path


def merge_into(found: Payload, ledger: Ledger, notes: dict) -> None:
    """Fold one payload's results into ``ledger`` and its notes into ``notes``."""
    notes.update(found.notes)
    for variant_id, theirs in found.results.items():
        merge_result(ledger[VARIANTS[variant_id]], theirs)


def merge_result(ours, theirs) -> None:
    """Field by field: what a test set in one process is kept; lists add up."""
    for field in fields(theirs):
        value = getattr(theirs, field.name)
        if field.name == "variant" or value in (None, {}, [], ()):
            continue
        if isinstance(value, list):
            setattr(ours, field.name, getattr(ours, field.name) + value)
        elif isinstance(value, dict):
            setattr(ours, field.name, {**getattr(ours, field.name), **value})
        else:
            setattr(ours, field.name, value)
