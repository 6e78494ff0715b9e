"""Folders a run writes to that cannot be written: one message naming the folder and the setting.

The cases a root user can make here: a file where the folder should be, a file where one of its
parents should be, and a kernel file system that refuses new entries even to root (/sys). A
read-only or a full file system needs a mount, which this machine cannot make: the same
``OSError`` path carries them (``compbench/writable.py`` names each).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys

import pytest

from compbench.cache import ArtifactCache
from compbench.runner.history import History, HistoryError
from compbench.runner.html_report import write_html_report
from compbench.runner.report import write_report
from compbench.settings import CACHE_ENV, REPO_ROOT
from compbench.writable import FolderNotWritable, writable_dir


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "occupied"
    path.write_text("a file the user keeps here")
    return path


def test_a_missing_folder_is_created_and_proven_writable(tmp_path):
    target = tmp_path / "a" / "b"
    assert writable_dir(target, "report folder", "--report-dir") == target
    assert target.is_dir() and list(target.iterdir()) == []   # the probe leaves nothing


@pytest.mark.parametrize("where", ["in its place", "in a parent's place"])
def test_a_file_in_the_way_is_one_message_and_is_kept(a_file, where):
    target = a_file if where == "in its place" else a_file / "sub" / "dir"
    with pytest.raises(FolderNotWritable) as raised:
        writable_dir(target, "report folder", "--report-dir")
    message = str(raised.value)
    assert message.startswith(f"report folder {target} cannot be written")
    assert "--report-dir" in message
    assert ("a file, not a folder, is in its place" if where == "in its place"
            else f"{a_file} is a file, not a folder") in message
    assert a_file.read_text() == "a file the user keeps here"


def test_a_file_system_that_refuses_new_entries_is_one_message():
    target = "/sys/compbench-writable-check"
    try:
        os.mkdir(target)
    except PermissionError:
        pass
    except OSError as exc:
        pytest.skip(f"/sys here does not refuse with EPERM ({errno.errorcode[exc.errno]})")
    else:
        os.rmdir(target)
        pytest.skip("/sys is writable here")
    with pytest.raises(FolderNotWritable, match="this user may not write there.*--cache-dir"):
        writable_dir(__import__("pathlib").Path(target), "artifact cache", "--cache-dir")


@pytest.mark.parametrize("where", ["in its place", "in a parent's place"])
def test_the_cache_root(a_file, where):
    root = a_file if where == "in its place" else a_file / "cache"
    with pytest.raises(FolderNotWritable, match=f"artifact cache {root} cannot be written.*"
                                                f"--cache-dir or {CACHE_ENV}"):
        ArtifactCache(root).get_or_build("recipes", {"k": 1}, lambda out: ({}, {}))


@pytest.mark.parametrize("where", ["in its place", "in a parent's place"])
def test_the_report_folder(a_file, where):
    folder = a_file if where == "in its place" else a_file / "reports"
    for write in (lambda: write_report("# r", folder, "s"),
                  lambda: write_html_report("<p>", [], folder, "s")):
        with pytest.raises(FolderNotWritable, match=f"report folder {folder} cannot be written.*"
                                                    "--report-dir"):
            write()


def test_a_report_file_that_cannot_be_written_after_the_check(tmp_path):
    (tmp_path / "latest.md").mkdir()   # a folder where the report goes
    with pytest.raises(FolderNotWritable, match=f"report {tmp_path / 'latest.md'} cannot be "):
        write_report("# r", tmp_path, "s")


@pytest.mark.parametrize("where", ["its folder is a file", "it is a folder"])
def test_the_history_database(a_file, tmp_path, where):
    path = a_file / "history.sqlite" if where == "its folder is a file" else tmp_path
    with pytest.raises(HistoryError, match="--history or COMPBENCH_HISTORY"):
        History(path).check_writable()
    from compbench.runner.results import Ledger
    with pytest.raises(HistoryError, match=str(path)):
        History(path).record(Ledger(), {}, "default")


@pytest.mark.parametrize("option", ["--report-dir", "--history", "--cache-dir"])
def test_a_session_given_such_a_folder_stops_at_once_with_one_message(a_file, tmp_path, option):
    """Before any test or build (not after a session's hours), as a usage error."""
    value = {"--report-dir": a_file, "--history": a_file / "h.sqlite",
             "--cache-dir": a_file / "cache"}[option]
    arguments = [f"--report-dir={tmp_path / 'reports'}", f"--history={tmp_path / 'h.sqlite'}",
                 f"--cache-dir={tmp_path / 'cache'}", f"{option}={value}"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-q",
                           "tests/test_writable_dirs.py", "-k", "a_missing_folder", *arguments],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert f"{value}" in output and option in output
    assert "Traceback" not in output and "INTERNALERROR" not in output


def test_a_report_that_fails_at_the_end_loses_neither_the_results_nor_the_history(tmp_path,
                                                                                  asset_file):
    """Checked at the start, a folder can still refuse a file at the end (a full disk, a name
    taken meanwhile): the session's results file and history are written first, each apart."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    reports = tmp_path / "reports"
    (reports / "latest.md").mkdir(parents=True)   # the report's own file name is taken
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "bench/test_size.py",
         "-k", "resnet20 and fp32 and onnxruntime-1t", f"--report-dir={reports}",
         f"--history={tmp_path / 'h.sqlite'}", f"--benchmark-storage={tmp_path / 'b'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in output, output[-3000:]
    assert f"report not written: report {reports / 'latest.md'} cannot be written" in output
    assert list(reports.glob("results-*.json"))
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
