"""Native start-up chatter is held back on a successful import and replayed on a failed one."""

from __future__ import annotations

import subprocess
import sys

from compbench.settings import REPO_ROOT

NOISY_MODULE = "import os\nos.write(2, b'native notice\\n')\n"


def run(tmp_path, body: str, module: str, verbose: bool = False) -> subprocess.CompletedProcess:
    (tmp_path / "noisy_ok.py").write_text(NOISY_MODULE)
    (tmp_path / "noisy_bad.py").write_text(NOISY_MODULE + "raise ImportError('no kernels')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{REPO_ROOT}"}
    if verbose:
        env["COMPBENCH_VERBOSE"] = "1"
    code = f"from compbench.quiet import import_quietly\n{body.format(module=module)}\n"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_successful_import_prints_nothing(tmp_path):
    done = run(tmp_path, "import_quietly('{module}'); print('imported')", "noisy_ok")
    assert done.returncode == 0 and done.stdout == "imported\n" and done.stderr == ""


def test_a_failed_import_shows_what_the_library_said(tmp_path):
    done = run(tmp_path, "import_quietly('{module}')", "noisy_bad")
    assert done.returncode != 0
    assert "native notice" in done.stderr and "no kernels" in done.stderr


def test_verbose_lets_it_through(tmp_path):
    done = run(tmp_path, "import_quietly('{module}')", "noisy_ok", verbose=True)
    assert done.returncode == 0 and done.stderr == "native notice\n"
