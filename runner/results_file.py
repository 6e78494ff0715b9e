"""A session's results as one payload, so that parts measured apart make one report.

Two producers: an xdist worker sends its payload to the controller (``compbench.runner.distributed``), and
every session writes its own next to its report (``results-<stamp>.json``), so the jobs of a CI
matrix that split the variants between them (one per engine family, one per model) can be
folded into one table by ``compbench merge``. JSON with a versioned schema
(docs/results-schema.md), converted field by field: such a file comes from another job, another
machine or a download, and reading it must not be able to run anything (a pickle could). The
payload says which commit and machine produced it, and a merge names every source in its header.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

from compbench import hardware
from compbench.cache import atomic_write_text
from compbench.errors import CompbenchError
from compbench.machine_drift import MachineDrift
from compbench.runner.matrix import variants
from compbench.runner.results import (
    Ledger,
    VariantResult,
    mapping,
    required,
    text,
    text_list,
    text_map,
    whole,
)

FORMAT = "compbench-results"
VERSION = (1, 0)   # major: a reader refuses another; minor: fields added, older readers skip them
LATEST = "latest-results.json"
BENCHER = "latest-bmf.json"   # the same results in Bencher Metric Format, for a trend tracker
_WRITE_AGAIN = "write it again with this commit (pytest bench writes results-<stamp>.json)"


@dataclass
class Payload:
    results: dict              # variant id -> VariantResult
    notes: dict                # model -> the data it was measured on
    drift: MachineDrift | None  # of the process that timed, if it did
    machine: hardware.Hardware
    origin: dict               # provenance: commit, date, command
    version: tuple[int, int] = VERSION


def payload(ledger: Ledger, notes: dict, drift, origin: dict) -> str:
    """JSON text: what a results file holds and what an xdist worker sends (execnet carries a
    str)."""
    return to_json(Payload(ledger.results, notes, drift, hardware.current(), origin))


def to_json(found: Payload) -> str:
    document = {
        "format": FORMAT,
        "version": f"{found.version[0]}.{found.version[1]}",
        "machine": found.machine.as_dict(),
        "origin": found.origin,
        "notes": found.notes,
        "drift": found.drift.to_dict() if found.drift else None,
        "results": {variant_id: result.to_dict() for variant_id, result in found.results.items()},
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def parse(data: str | bytes, source: str) -> Payload:
    """The payload in ``data``, or one ``CompbenchError`` naming ``source``: a results file is
    read as JSON and converted field by field, nothing in it is ever executed or imported."""
    if isinstance(data, bytes):
        if data[:1] == b"\x80":
            raise CompbenchError(
                f"{source}: not a compbench results file but a pickle (the results format "
                "before JSON 1.0); pickles are not read, since loading one can run any code its "
                f"author chose: {_WRITE_AGAIN}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CompbenchError(f"{source}: not a compbench results file (not UTF-8 text); "
                                 f"it is written next to each report as results-<stamp>.json "
                                 f"and {LATEST}") from None
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        what = "empty" if not data.strip() else (
            f"not JSON, or truncated: {exc.msg} at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError) else "nested too deeply")
        raise CompbenchError(f"{source}: not a compbench results file ({what}); it is written "
                             f"next to each report as results-<stamp>.json and {LATEST}: "
                             f"pass one of those, whole, or {_WRITE_AGAIN}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CompbenchError(f"{source}: not a compbench results file (JSON without "
                             f"\"format\": \"{FORMAT}\"); pass a results-<stamp>.json or "
                             f"{LATEST} written beside a compbench report")
    version = _version(document.get("version"), source)
    try:
        return _payload_of(document, version, source)
    except ValueError as exc:   # Malformed, and MachineDrift.from_dict's checks
        raise CompbenchError(f"{source}: malformed compbench results file ({exc}); it was "
                             f"edited or damaged after it was written: {_WRITE_AGAIN}") from None


def _version(value, source: str) -> tuple[int, int]:
    major, _, minor = str(value).partition(".")
    if not (isinstance(value, str) and major.isdigit() and minor.isdigit()):
        raise CompbenchError(f"{source}: compbench results file without a valid \"version\" "
                             f"(found {value!r:.40}, expected \"{VERSION[0]}.<minor>\"): "
                             f"{_WRITE_AGAIN}")
    if int(major) != VERSION[0]:
        newer = int(major) > VERSION[0]
        raise CompbenchError(
            f"{source}: compbench results format {value}, this compbench reads "
            f"{VERSION[0]}.x only: " + ("merge it with the newer compbench that wrote it "
                                        "(update this checkout)" if newer else _WRITE_AGAIN))
    return int(major), int(minor)


def _payload_of(document: dict, version: tuple[int, int], source: str) -> Payload:
    found = required(document, "results", "", mapping)
    unknown = sorted(set(found) - set(variants()))
    if unknown:
        raise CompbenchError(f"{source}: variants this commit does not know ({', '.join(unknown)}): "
                             "merge results of the commit that wrote them")
    results = {variant_id: VariantResult.from_dict(variants()[variant_id], data,
                                                   f"results[{variant_id!r}]")
               for variant_id, data in found.items()}
    drift = document.get("drift")
    return Payload(results, required(document, "notes", "", text_map),
                   None if drift is None else MachineDrift.from_dict(drift, "drift"),
                   required(document, "machine", "", _machine),
                   required(document, "origin", "", mapping), version)


_HARDWARE_FIELD = {"str": text, "int": whole,
                   "tuple[str, ...]": lambda value, where: tuple(text_list(value, where))}


def _machine(data, where: str) -> hardware.Hardware:
    """Each field of ``Hardware`` read by its declared type; one with a default may be absent
    (added to the class after the file was written)."""
    values = {}
    for field in fields(hardware.Hardware):
        convert = _HARDWARE_FIELD[field.type]
        if field.default is not MISSING and field.name not in mapping(data, where):
            continue
        values[field.name] = required(data, field.name, where, convert)
    return hardware.Hardware(**values)


def read(path: Path) -> Payload:
    try:
        return parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise CompbenchError(f"cannot read results file {path} ({exc.strerror})") from None


def write(data: str, directory: Path, stamp: str) -> Path:
    """``results-<stamp>.json`` and ``latest-results.json``, each replaced whole (a reader, or
    a CI step that uploads the folder, never sees half a file)."""
    path = directory / f"results-{stamp}.json"
    atomic_write_text(path, data, 0o644)
    atomic_write_text(directory / LATEST, data, 0o644)
    return path


def bencher_metrics(results: dict[str, VariantResult]) -> dict:
    """The results in Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format):
    ``{variant id: {measure: {value, lower_value, upper_value}}}``, for a tracker of the trend
    outside this project. Measures: ``latency`` (Bencher's, in ns: median, bounded by the
    fastest round and the 99th percentile), ``speedup`` (paired, within its confidence
    interval), ``file-size`` (bytes) and each accuracy metric by its name."""
    metrics = {}
    for variant_id, result in results.items():
        measures = {name: {"value": value} for name, value in result.metrics.items()}
        if result.latency:
            measures["latency"] = {"value": result.latency.p50_ms * 1e6,
                                   "lower_value": result.latency.min_ms * 1e6,
                                   "upper_value": result.latency.p99_ms * 1e6}
        if result.paired_speedup is not None:
            measures["speedup"] = {"value": result.paired_speedup}
            if result.speedup_interval:
                measures["speedup"] |= {"lower_value": result.speedup_interval.low,
                                        "upper_value": result.speedup_interval.high}
        if result.size_bytes is not None:
            measures["file-size"] = {"value": result.size_bytes}
        if measures:
            metrics[variant_id] = measures
    return metrics


def write_bencher(results: dict[str, VariantResult], directory: Path) -> Path:
    path = directory / BENCHER
    atomic_write_text(path, json.dumps(bencher_metrics(results), indent=1) + "\n", 0o644)
    return path


def merge_into(found: Payload, ledger: Ledger, notes: dict) -> None:
    """Fold one payload's results into ``ledger`` and its notes into ``notes``."""
    notes.update(found.notes)
    for variant_id, theirs in found.results.items():
        merge_result(ledger[variants()[variant_id]], theirs)


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
