"""Run one cached step (build, convert, evaluate) in a fresh Python interpreter.

Why a fresh interpreter for every step (forked from one that has only imported the step's
framework, ``compbench.warm_interpreter``, unless ``COMPBENCH_FRESH_STEPS=1``):
- its ``sys.modules`` at the end is exactly what the step depended on (the cache's manifest,
  ``compbench.dependencies``), with nothing inherited from whatever ran before in the session;
- it always starts the same way, with one thread per library, so a step computes the same bytes
  whether it ran in the parallel prebuild, inside a test, cold or warm;
- library chatter (TensorFlow's C++ logs, Keras progress bars) goes to the step's log, shown
  only when the step fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compbench import errors
from compbench.layout import IN_CHECKOUT
from compbench.settings import REPO_ROOT
from compbench.step_worker import OUTCOME_FILE, REQUEST_FILE
from compbench.warm_interpreter import TENSORFLOW_PRELOAD, TORCH_PRELOAD, WarmInterpreters

STEP_THREADS = 1
LOG_FILE = ".step.log"
LOG_TAIL_LINES = 25
# between a failed step's error and the tail of its log (runner/prebuild.py shows that tail's last line)
LOG_MARKER = "\n--- end of its log ---\n"

FRESH_STEPS_ENV = "COMPBENCH_FRESH_STEPS"   # "1": every step starts its interpreter from scratch
_WARM = WarmInterpreters()

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


class StepFailed(errors.CompbenchError):
    """A step raised something that is not a user-facing compbench error (a bug or a library
    failure): the message carries the end of its log and traceback."""


def _import_roots() -> list[str]:
    """This checkout, and the project's folder when it is another: a team's models and recipes
    are imported from there in the step, as its plugins were in the session."""
    from compbench.project import current

    # installed, compbench is found in site-packages: its package folder is no import root
    checkout = [str(REPO_ROOT)] if IN_CHECKOUT else []
    return list(dict.fromkeys([*checkout, str(current().root)]))


def step_environment(uses_tensorflow: bool) -> dict[str, str]:
    from compbench.project import PROJECT_ENV, current

    env = dict(os.environ)
    env.update({name: str(STEP_THREADS) for name in _THREAD_VARIABLES})
    search_path = os.pathsep.join([*_import_roots(), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1", "PYTHONPATH": search_path,
                "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1",
                # the step records a project file relative to this run's project, whatever its
                # working directory (compbench.dependencies)
                PROJECT_ENV: str(current().root)})
    if not uses_tensorflow:
        env["USE_TF"] = "0"  # transformers/optimum would import TensorFlow (slow) and record it
    return env


def run_step(step: str, request: dict[str, Any], out_dir: Path, label: str,
             uses_tensorflow: bool = False, prefix: Sequence[str] = (),
             fresh: bool = False) -> tuple[Any, dict]:
    """``step(request, out_dir)`` in a child (``step`` is ``"module:function"``); returns
    (result, dependencies). ``prefix`` runs the child's interpreter under another program (the
    CPUID emulator, ``compbench.isa_emulation``). ``fresh`` starts the interpreter from scratch,
    for a step that measures its own start-up (the footprint step).

    Raises the step's own ``CompbenchError`` subclass with its message (NaN outputs, corrupt
    assets, ...), or ``StepFailed`` with the log's tail for anything else.
    """
    (out_dir / REQUEST_FILE).write_text(json.dumps({"step": step, **request}, default=str))
    name = step.rpartition(":")[2]  # what a user reads in messages: "compress", "evaluate"
    log_path = out_dir / LOG_FILE
    env = step_environment(uses_tensorflow)
    code = None
    if not (prefix or fresh) and os.environ.get(FRESH_STEPS_ENV) != "1":
        code = _WARM.run(TENSORFLOW_PRELOAD if uses_tensorflow else TORCH_PRELOAD, env, REPO_ROOT,
                         out_dir, LOG_FILE)
    if code is None:
        with open(log_path, "wb") as log:
            code = subprocess.run(
                [*prefix, sys.executable, "-m", "compbench.step_worker", str(out_dir)],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    try:
        outcome = json.loads((out_dir / OUTCOME_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        outcome = {"ok": False, "error": "StepFailed",
                   "message": f"the {name} process for {label} ended with exit code "
                              f"{code} and no result"}
    if outcome.get("ok"):
        return outcome["result"], outcome["dependencies"]
    raise _error_of(outcome, name, label, log_path)


def _error_of(outcome: dict, step: str, label: str, log_path: Path) -> Exception:
    cls = getattr(errors, outcome.get("error", ""), None)
    if isinstance(cls, type) and issubclass(cls, errors.CompbenchError):
        return cls(outcome.get("message", ""))
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return StepFailed(f"{step} of {label} failed: {outcome.get('error')}: "
                      f"{outcome.get('message')}{LOG_MARKER}" + "\n".join(tail))
