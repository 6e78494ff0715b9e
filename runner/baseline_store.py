"""A baseline file on disk: its name, its schema, and the only safe ways to read and replace it.

Reading rejects what JSON would silently lose (a key written twice) and any malformed value with
one error naming the key at fault, before any gate reads the file. Updates are explicit
(``--update-baselines``), happen under a lock beside the file, re-read the file under that lock
(so two concurrent updates both land), and replace it atomically, keeping its permissions and
writing through a symlink.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

from compbench.cache import atomic_write_text, file_lock
from compbench.errors import BaselineError
from compbench.project import current
from compbench.runner import accuracy_floor
from compbench.runner.tolerances import (
    accuracy_metrics,
    cross_hardware_tolerances,
    default_tolerances,
    known_metrics,
)

DEFAULT_PROFILE = "default"
UPDATE_HINT = "pytest bench --update-baselines"
SCHEMA = 2
SHARED = "shared"
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def baseline_path(profile: str, directory: Path | None = None) -> Path:
    """``<directory>/<profile>.json``; the directory defaults to the project's ``baselines/``."""
    directory = directory or current().baselines_dir
    if not PROFILE_NAME.match(profile) or ".." in profile:
        raise BaselineError(f"--profile {profile!r} is not a profile name: use letters, digits, "
                            f"'-', '_' or '.', e.g. --profile full (the file is "
                            f"{directory}/<profile>.json)")
    return directory / f"{profile}.json"


def empty(profile: str) -> dict:
    return {"schema": SCHEMA, "profile": profile, "tolerances": default_tolerances(),
            "cross_hardware_tolerances": cross_hardware_tolerances(), "recordings": {},
            "variants": {}}


def read(profile: str, path: Path) -> dict:
    """The validated content of ``path``; a new profile's empty content if there is no file."""
    if path.is_dir():
        raise BaselineError(f"baseline path {path} is a folder, not a file: pass the folder "
                            f"as --baselines-dir and the file name as --profile")
    if not path.exists():
        if path.is_symlink():
            raise BaselineError(f"baseline file {path} is a symlink to a missing file "
                                f"({path.readlink()}): fix or remove the link")
        return empty(profile)

    def unique_keys(pairs: list[tuple[str, object]]) -> dict:
        # json keeps the last of two equal keys: one recorded value would silently vanish
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BaselineError(
                    f"baseline file {path} holds the key {key!r} twice in one object (JSON "
                    f"keeps only the last copy, so the other would be silently lost): delete "
                    f"the copy that is wrong by hand, or restore the file from git "
                    f"(git checkout -- {path}) and re-record with `{UPDATE_HINT}`.")
            seen.add(key)
        return dict(pairs)

    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys)
    except OSError as exc:
        raise BaselineError(f"cannot read baseline file {path} ({exc.strerror}): check its "
                            "permissions") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline file {path} is not valid JSON ({exc}). Fix it by hand "
                            f"or restore it from git (git checkout -- {path}), then "
                            f"re-record with `{UPDATE_HINT}`.") from None
    validate(path, data)
    return data


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def write(path: Path, data: dict) -> None:
    target = path.resolve() if path.is_symlink() else path
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n", mode)


def update(path: Path, profile: str,
           change: Callable[[dict], tuple[dict, list[str]]]) -> list[str]:
    """Apply ``change`` (current content → new content, change lines) to the file on disk under
    its lock, re-reading it there; the file is rewritten only if something changed."""
    with file_lock(lock_path(path)):
        fresh = read(profile, path)
        data, changes = change(fresh)
        if changes or data != fresh:
            write(path, data)
    return changes


def validate(path: Path, data) -> None:
    """Schema check: one error naming the key at fault, before any gate reads the file."""
    def bad(what: str):
        raise BaselineError(f"baseline file {path} is malformed: {what}. Restore it from git "
                            f"or re-record it with `{UPDATE_HINT}`.")

    def number(where: str, value) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            bad(f"{where} must be a finite number, got {value!r}")

    def tolerances(where: str, table) -> None:
        if not isinstance(table, dict):
            bad(f"{where} must be an object")
        for metric, tol in table.items():
            if metric not in known_metrics():
                bad(f'{where}["{metric}"]: unknown metric (known: {", ".join(known_metrics())})')
            if not isinstance(tol, dict) or len({"abs", "rel"} & set(tol)) != 1 \
                    or set(tol) - {"abs", "rel", "why"}:
                bad(f'{where}["{metric}"] must be {{"abs": x}} or {{"rel": x}} (plus "why")')
            kind = "abs" if "abs" in tol else "rel"
            number(f'{where}["{metric}"]["{kind}"]', tol[kind])
            if tol[kind] < 0:
                bad(f'{where}["{metric}"]["{kind}"] is negative ({tol[kind]})')

    def values(where: str, table, recordings: dict) -> None:
        if not isinstance(table, dict):
            bad(f"{where} must be an object")
        for metric, record in table.items():
            if metric not in known_metrics():
                bad(f'{where}["{metric}"]: unknown metric (known: {", ".join(known_metrics())})')
            if not isinstance(record, dict) or "value" not in record:
                bad(f'{where}["{metric}"] must be {{"value": number, "recorded": id}}')
            number(f'{where}["{metric}"]["value"]', record["value"])
            if record.get("recorded") not in recordings:
                bad(f'{where}["{metric}"]["recorded"] names no entry of "recordings"')

    if not isinstance(data, dict):
        bad("the top level must be an object")
    if data.get("schema") != SCHEMA:
        bad(f'"schema" is {data.get("schema")!r}, this compbench reads schema {SCHEMA} (values '
            "per hardware class, provenance per value); re-record the profile")
    recordings = data.get("recordings")
    if not isinstance(recordings, dict):
        bad('missing "recordings" object')
    if not isinstance(data.get("variants"), dict):
        bad('missing "variants" object')
    tolerances('"tolerances"', data.get("tolerances", {}))
    tolerances('"cross_hardware_tolerances"', data.get("cross_hardware_tolerances", {}))
    accuracy_floor.parse(data, bad, accuracy_metrics())
    for variant_id, entry in data["variants"].items():
        where = f'variants["{variant_id}"]'
        if not isinstance(entry, dict) or set(entry) - {"recipe", SHARED, "by_hardware", "tolerances"}:
            bad(f'{where} must be an object with "recipe", "shared", "by_hardware" and "tolerances"')
        if not isinstance(entry.get("recipe", ""), str):
            bad(f'{where}["recipe"] must be the recipe and parameters it was recorded for')
        values(f'{where}["shared"]', entry.get(SHARED, {}), recordings)
        by_hardware = entry.get("by_hardware", {})
        if not isinstance(by_hardware, dict):
            bad(f'{where}["by_hardware"] must be an object of hardware classes')
        for cls, table in by_hardware.items():
            values(f'{where}["by_hardware"]["{cls}"]', table, recordings)
        tolerances(f'{where}["tolerances"]', entry.get("tolerances", {}))
