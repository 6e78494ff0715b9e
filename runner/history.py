"""Every session's results, kept across nights in an embedded SQLite database.

The baseline file says what a variant *should* measure; the history says what it *did*, night
after night, so a slow drift that stays inside the tolerance, or a metric that flips between
two values, is visible. One row per session (with its provenance: commit, date, machine,
library versions, command), one per variant measured in it, one per metric value and per gate
verdict. SQLite because the data must persist and be queried (the last N runs of a variant),
not re-parsed; it is a file, so a CI job keeps it in its cache.

Writes are one transaction (an interrupted session leaves the previous state); a file that is
not a history database is one clear error naming it, never a traceback. Two cases must not be
taken for a broken file, because the advice for one ("move it away") would throw away data:
a database another process holds locked (another session writing its history) is waited for a
bounded time, then reported as locked and kept; and another application's SQLite file, given by
mistake, is refused before compbench adds its tables to it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from compbench.errors import CompbenchError
from compbench.runner.results import Ledger, VariantResult
from compbench.settings import HISTORY_ENV
from compbench.writable import FolderNotWritable, writable_dir

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date TEXT NOT NULL, git_commit TEXT, profile TEXT, hardware_class TEXT,
    machine TEXT, packages TEXT, command TEXT, machine_state TEXT
);
CREATE TABLE IF NOT EXISTS results (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    variant TEXT NOT NULL, model TEXT, compression TEXT, engine TEXT, threads INTEGER,
    min_ms REAL, p50_ms REAL, p90_ms REAL, p99_ms REAL, iqr_ms REAL,
    speedup REAL, speedup_low REAL, speedup_high REAL,
    size_bytes INTEGER, size_gzip_bytes INTEGER, not_gated TEXT,
    peak_rss_mb REAL, startup_s REAL, throughput TEXT,
    PRIMARY KEY (session_id, variant)
);
CREATE TABLE IF NOT EXISTS metrics (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    variant TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (session_id, variant, metric)
);
CREATE TABLE IF NOT EXISTS verdicts (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    variant TEXT NOT NULL, name TEXT NOT NULL, verdict TEXT NOT NULL,
    PRIMARY KEY (session_id, variant, name)
);
CREATE INDEX IF NOT EXISTS results_by_variant ON results (variant, session_id);
"""


BUSY_TIMEOUT_S = 30.0   # how long a write waits for another process's lock to end
HISTORY_SETTING = f"--history or {HISTORY_ENV}"


def _schema_columns() -> dict[str, list[str]]:
    """compbench's tables and their columns, as ``_SCHEMA`` creates them."""
    with sqlite3.connect(":memory:") as db:
        db.executescript(_SCHEMA)
        return {table: _columns(db, table) for table in _tables(db)}


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _is_locked(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            or "locked" in str(exc))


class HistoryError(CompbenchError):
    """The history database cannot be used: names the file and what to do."""


@dataclass(frozen=True)
class Run:
    """One variant in one past session: what the report's trend and ``compbench history`` show."""

    session_id: int
    date: str
    git_commit: str | None
    p50_ms: float | None
    speedup: float | None
    size_bytes: int | None
    main_metric: float | None
    verdicts: dict[str, str]


class History:
    def __init__(self, path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S):
        self.path = path
        self.busy_timeout_s = busy_timeout_s

    def _locked(self) -> HistoryError:
        return HistoryError(f"history database {self.path} is locked by another process (another "
                            f"compbench session writing its history, or a program that has it "
                            f"open; waited {self.busy_timeout_s:g} s); retry when it ends. The "
                            "file is kept as it is.")

    def check_writable(self) -> None:
        """The database's place can take it: checked before a session, not after its hours."""
        if self.path.is_dir():
            raise HistoryError(f"history database {self.path} is a folder: point {HISTORY_SETTING} "
                               "at a file (created if absent).")
        try:
            writable_dir(self.path.parent, f"history database {self.path}: its folder",
                         HISTORY_SETTING)
        except FolderNotWritable as exc:
            raise HistoryError(str(exc)) from None

    @contextmanager
    def _connect(self, writing: bool = False) -> Iterator[sqlite3.Connection]:
        if writing:
            self.check_writable()
        elif self.path.is_dir():
            raise HistoryError(f"history database {self.path} is a folder: point {HISTORY_SETTING} "
                               "at a file.")
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
        except sqlite3.Error as exc:
            raise HistoryError(f"history database {self.path} cannot be opened ({exc}): point "
                               f"{HISTORY_SETTING} at a file this user can write.") from None
        try:
            try:
                self._check_schema(db)
            except sqlite3.Error as exc:
                if _is_locked(exc):
                    raise self._locked() from None
                raise HistoryError(f"{self.path} is not a compbench history database ({exc}). "
                                   f"Move it away (or set {HISTORY_ENV} to another file); a new "
                                   "history starts with the next run.") from None
            try:
                with db:   # one transaction: committed whole or not at all
                    yield db
            except sqlite3.Error as exc:
                if _is_locked(exc):
                    raise self._locked() from None
                raise HistoryError(f"history database {self.path}: {exc}. Move it away (or set "
                                   f"{HISTORY_ENV} to another file).") from None
        finally:
            db.close()

    def _check_schema(self, db: sqlite3.Connection) -> None:
        """Refuse a file that is not compbench's history; create the tables in a new one."""
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables, expected = _tables(db), _schema_columns()
        foreign = sorted(t for t in tables if t not in expected)
        if version not in (0, SCHEMA_VERSION) and not foreign:
            raise HistoryError(f"history database {self.path} has schema version {version}, "
                               f"this compbench writes {SCHEMA_VERSION}. Move it away (or set "
                               f"{HISTORY_ENV} to another file) to start a new history.")
        foreign += sorted(t for t in tables & set(expected) if _columns(db, t) != expected[t])
        if foreign:
            raise HistoryError(f"{self.path} is an SQLite database of another application (its "
                               f"table(s) {', '.join(foreign)} are not compbench's): compbench "
                               f"does not write into it, and left it as it was. Point "
                               f"{HISTORY_SETTING} at a file of its own.")
        if version == 0 or tables != set(expected):
            # one transaction with the version: never a half-made schema that looks complete
            db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def record(self, ledger: Ledger, provenance: dict, profile: str,
               machine_state: str | None = None) -> int:
        """Append this session; returns its id."""
        machine = provenance.get("machine", {})
        with self._connect(writing=True) as db:
            session_id = db.execute(
                "INSERT INTO sessions (date, git_commit, profile, hardware_class, machine, "
                "packages, command, machine_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (provenance.get("date"), provenance.get("git_commit"), profile,
                 machine.get("hardware_class"), json.dumps(machine),
                 json.dumps(provenance.get("packages", {})), provenance.get("command"),
                 machine_state)).lastrowid
            for result in ledger.results.values():
                row = (session_id, *_result_row(result))
                db.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(row))})", row)
                db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)",
                               [(session_id, result.variant.id, m, v)
                                for m, v in result.metrics.items()])
                db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?)",
                               [(session_id, result.variant.id, name, verdict)
                                for name, verdict in result.verdicts.items()])
        return session_id

    def runs(self, variant_id: str, main_metric: str, last: int = 10) -> list[Run]:
        """The variant's last ``last`` sessions, oldest first."""
        return self.trends([variant_id], main_metric, last)[variant_id]

    def trends(self, variant_ids: list[str], main_metric: str,
               last: int = 10) -> dict[str, list[Run]]:
        """``runs`` of many variants over one connection (a report asks for every variant)."""
        found: dict[str, list[Run]] = {v: [] for v in variant_ids}
        if not self.path.exists():
            return found
        with self._connect() as db:
            for variant_id in variant_ids:
                rows = db.execute(
                    "SELECT s.id, s.date, s.git_commit, r.p50_ms, r.speedup, r.size_bytes, m.value "
                    "FROM results r JOIN sessions s ON s.id = r.session_id "
                    "LEFT JOIN metrics m ON m.session_id = r.session_id "
                    "AND m.variant = r.variant AND m.metric = ? WHERE r.variant = ? "
                    "ORDER BY s.id DESC LIMIT ?", (main_metric, variant_id, last)).fetchall()
                sessions = [row[0] for row in rows]
                verdicts: dict[int, dict[str, str]] = {}
                for session_id, name, verdict in db.execute(
                        "SELECT session_id, name, verdict FROM verdicts WHERE variant = ? AND "
                        f"session_id IN ({', '.join('?' * len(sessions))})",
                        (variant_id, *sessions)):
                    verdicts.setdefault(session_id, {})[name] = verdict
                found[variant_id] = [
                    Run(sid, date, commit, p50, speedup, size, value, verdicts.get(sid, {}))
                    for sid, date, commit, p50, speedup, size, value in reversed(rows)]
        return found

    def measurements(self, variant_id: str, last: int) -> list[dict]:
        """The variant's last ``last`` sessions, oldest first, with every stored value, verdict
        and the session's machine: what change-point detection reads (runner/change_points.py)."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.id, s.date, s.git_commit, s.hardware_class, s.machine, r.speedup, "
                "r.p50_ms, r.p90_ms, r.p99_ms, r.size_bytes FROM results r JOIN sessions s ON "
                "s.id = r.session_id WHERE r.variant = ? ORDER BY s.id DESC LIMIT ?",
                (variant_id, last)).fetchall()
            found = []
            for sid, date, commit, hardware_class, machine, *values in reversed(rows):
                found.append({"session_id": sid, "date": date, "git_commit": commit,
                              "hardware_class": hardware_class, "machine": json.loads(machine or "{}"),
                              "values": dict(zip(("speedup", "p50_ms", "p90_ms", "p99_ms",
                                                  "size_bytes"), values, strict=True)),
                              "verdicts": {}})
                found[-1]["values"].update(db.execute(
                    "SELECT metric, value FROM metrics WHERE session_id = ? AND variant = ?",
                    (sid, variant_id)).fetchall())
                found[-1]["verdicts"].update(db.execute(
                    "SELECT name, verdict FROM verdicts WHERE session_id = ? AND variant = ?",
                    (sid, variant_id)).fetchall())
        return found

    def variants(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._connect() as db:
            return [v for (v,) in db.execute("SELECT DISTINCT variant FROM results ORDER BY variant")]

    def session_count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]


def _result_row(result: VariantResult) -> tuple:
    variant, latency, interval = result.variant, result.latency, result.speedup_interval
    return (variant.id, variant.model.name, variant.compression, variant.engine, result.threads,
            *((latency.min_ms, latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.iqr_ms)
              if latency else (None,) * 5),
            result.paired_speedup,
            interval.low if interval else None, interval.high if interval else None,
            result.size_bytes, result.gzip_size_bytes, result.not_gated,
            result.footprint.get("peak_rss_mb"), result.footprint.get("startup_s"),
            json.dumps(result.throughput) if result.throughput else None)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """The terminal's trend: one block per run, its height the value's place in the range."""
    seen = [v for v in values if v is not None]
    if not seen:
        return ""
    low, high = min(seen), max(seen)
    scale = (len(_BARS) - 1) / (high - low) if high > low else 0.0
    return "".join(" " if v is None else _BARS[round((v - low) * scale)] for v in values)


def trend_table(history: History, filters: list[str], last: int = 10):
    """Per variant (ids containing any of ``filters``): the latest run, the change since the
    one before, and the trend over the last ``last`` runs — what the HTML report's trend
    columns show, for a terminal."""
    import pandas as pd

    from compbench.runner.matrix import variants
    from compbench.runner.metric_state import variant_states
    from compbench.tasks import declaration

    rows = []
    for variant_id in history.variants():
        if filters and not any(f in variant_id for f in filters):
            continue
        variant = variants().get(variant_id)
        task = declaration(variant.model.task) if variant else None
        metric = task.main_metric if task else ""
        runs = history.runs(variant_id, metric, last)
        now, before = runs[-1], (runs[-2] if len(runs) > 1 else None)

        def change(attr: str, relative: bool, now=now, before=before) -> str:
            a, b = getattr(now, attr), before and getattr(before, attr)
            if a is None or not b:
                return "–"
            return f"{a / b - 1:+.1%}" if relative else f"{a - b:+.4f}"
        label = task.metric(metric).label if task else "?"
        state, change_point = variant_states(history, variant_id)   # runner/metric_state.py
        rows.append({
            "variant": variant_id, "runs": len(runs), "last run": now.date,
            "main metric": "–" if now.main_metric is None else f"{label} {now.main_metric:.4f}",
            "Δ metric": change("main_metric", False),
            "trend metric": sparkline([r.main_metric for r in runs]),
            "p50 (ms)": "–" if now.p50_ms is None else f"{now.p50_ms:.2f}",
            "Δ p50": change("p50_ms", True),
            "trend p50": sparkline([r.p50_ms for r in runs]),
            "speed-up": "–" if now.speedup is None else f"{now.speedup:.2f}×",
            "not passed": ", ".join(f"{m} {v}" for m, v in sorted(now.verdicts.items())
                                    if v != "pass") or "–",
            "state": state, "change point": change_point,
        })
    return pd.DataFrame(rows)
