"""The history database when it is busy or not compbench's: the advice must never lose data.

A lock held by another process is waited for, then reported as a lock (the file is a valid
history, kept); another application's SQLite file is refused before anything is written to it.
Both with real SQLite connections and files, as a second session or a mistaken --history makes
them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import pytest

from compbench.runner.history import History, HistoryError
from compbench.runner.matrix import get_variant
from compbench.runner.results import Ledger

PROVENANCE = {"date": "2026-12-07T07:00:00+00:00", "git_commit": "abc123",
              "machine": {"hardware_class": "x86_64-avx512-vnni"}, "packages": {}, "command": "t"}
VARIANT = "scrfd_500m_kps/fp32/torch"


def ledger(hard_ap: float = 0.6) -> Ledger:
    found = Ledger()
    found[get_variant(VARIANT)].metrics = {"hard": hard_ap}
    return found


def exclusive_lock(path) -> sqlite3.Connection:
    """A second connection, as another process's writer holds it: nobody else may read."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_locked_history_is_reported_as_locked_and_kept(tmp_path):
    path = tmp_path / "history.sqlite"
    History(path).record(ledger(), PROVENANCE, "default")
    holder = exclusive_lock(path)
    try:
        started = time.monotonic()
        with pytest.raises(HistoryError) as raised:
            History(path, busy_timeout_s=0.5).record(ledger(0.7), PROVENANCE, "default")
        assert time.monotonic() - started >= 0.4   # it waited for the lock before giving up
    finally:
        holder.rollback()
        holder.close()
    message = str(raised.value)
    assert str(path) in message and "locked by another process" in message
    assert "retry when it ends" in message
    assert "not a compbench history" not in message and "Move it away" not in message
    history = History(path)
    assert history.session_count() == 1          # nothing lost, nothing half-written
    history.record(ledger(0.7), PROVENANCE, "default")
    assert [run.main_metric for run in history.runs(VARIANT, "hard")] == [0.6, 0.7]


def test_a_lock_that_ends_within_the_wait_is_just_waited_for(tmp_path):
    path = tmp_path / "history.sqlite"
    History(path).record(ledger(), PROVENANCE, "default")
    locked = threading.Event()

    def hold_briefly():
        holder = exclusive_lock(path)
        locked.set()
        time.sleep(0.5)
        holder.rollback()
        holder.close()

    other_writer = threading.Thread(target=hold_briefly)
    other_writer.start()
    try:
        assert locked.wait(10)
        History(path, busy_timeout_s=20).record(ledger(0.7), PROVENANCE, "default")
    finally:
        other_writer.join()
    assert History(path).session_count() == 2


FOREIGN_SCHEMAS = {
    "unknown tables": ["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
                       "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER)"],
    # only compbench's table names, not its columns (a web app's login sessions)
    "a same-named table": ["CREATE TABLE sessions (token TEXT PRIMARY KEY, expires REAL)"],
}


def _schema(path) -> list:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    db.close()
    return found


@pytest.mark.parametrize("tables", sorted(FOREIGN_SCHEMAS))
def test_another_applications_sqlite_file_is_refused_and_left_unchanged(tmp_path, tables):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        for statement in FOREIGN_SCHEMAS[tables]:
            db.execute(statement)
    db.close()
    schema, digest = _schema(path), hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(HistoryError) as raised:
        History(path).record(ledger(), PROVENANCE, "default")
    message = str(raised.value)
    assert str(path) in message and "another application" in message
    assert "--history" in message and "Move it away" not in message
    assert _schema(path) == schema
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    for read in (History(path).session_count, History(path).variants):
        with pytest.raises(HistoryError, match="another application"):
            read()
    assert _schema(path) == schema


def test_a_history_of_an_older_interrupted_creation_is_completed_not_refused(tmp_path):
    """A file holding only some of compbench's own tables, with their columns, is compbench's."""
    path = tmp_path / "history.sqlite"
    History(path).record(ledger(), PROVENANCE, "default")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE verdicts")
        db.execute("PRAGMA user_version = 0")
    db.close()
    History(path).record(ledger(0.7), PROVENANCE, "default")
    assert History(path).session_count() == 2
