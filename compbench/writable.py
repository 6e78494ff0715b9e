"""Folders a run writes to (the artifact cache, the report folder, the history's folder), checked
before use so a file in their place, a read-only or a full disk is one clear message naming the
setting to change, not a traceback at the end of a long session.

Creation is race-free (``exist_ok``): parallel step processes on a fresh machine all create the
same missing cache folder at once.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from compbench.errors import CompbenchError


class FolderNotWritable(CompbenchError):
    """A folder the run must write to cannot be created or written."""


def _reason(exc: OSError, path: Path) -> tuple[str, str]:
    """What is wrong, and what the user can do about it besides choosing another folder."""
    if isinstance(exc, FileExistsError) or exc.errno == errno.EEXIST:
        return "a file, not a folder, is in its place", "move that file away"
    if isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        parent = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if parent is None:
            return "part of its path is a file", ""
        return f"{parent} is a file, not a folder", f"move {parent} away"
    if exc.errno == errno.EROFS:
        return "it is on a read-only file system", ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "its file system is full", "free space there"
    if isinstance(exc, PermissionError):
        return "this user may not write there", ""
    return exc.strerror or str(exc), ""


def writable_dir(path: Path, what: str, setting: str, mode: int = 0o777) -> Path:
    """``path``, created if missing (with ``mode``) and proven writable by writing a file in it.

    ``what`` names the folder for the user ("artifact cache"), ``setting`` the option or
    variable that moves it ("--cache-dir or COMPBENCH_CACHE").
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        if not path.is_dir():   # a dangling symlink or a special file in its place
            raise FileExistsError(errno.EEXIST, "not a folder", str(path))
        with tempfile.TemporaryFile(dir=path) as probe:
            probe.write(b"compbench write check")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise not_writable(what, path, exc, setting) from None
    return path


def not_writable(what: str, path: Path, exc: OSError, setting: str) -> FolderNotWritable:
    """The one message for a write into a checked folder that failed after all (the disk filled
    up meanwhile, a folder stands where a file goes)."""
    reason, fix = _reason(exc, path)
    elsewhere = f"point {setting} to a place this user can write"
    return FolderNotWritable(f"{what} {path} cannot be written: {reason}. "
                             + (f"{fix[0].upper()}{fix[1:]}, or {elsewhere}." if fix
                                else f"{elsewhere[0].upper()}{elsewhere[1:]}."))
