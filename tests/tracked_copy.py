"""A second checkout of this code made from its tracked files only: what another clone of the
repository holds, not whatever the working tree holds at the moment (build/ folders that
setuptools would reuse, caches, or files another test writes into the checkout meanwhile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from compbench.settings import REPO_ROOT


def copy_tracked_files(target: Path) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for relpath in filter(None, tracked):
        if (REPO_ROOT / relpath).is_file():
            (target / relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / relpath, target / relpath)
    return target
