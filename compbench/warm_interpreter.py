"""Step interpreters that start with their framework already imported: one fork per step.

Why: a cached step runs in an interpreter of its own (``compbench.isolation``), and importing
its framework was a fixed cost paid again by every step — TensorFlow with tf_keras takes
seconds, several times what many a conversion or a CIFAR-10 evaluation then computes. A warm
interpreter imports the framework once and forks a child per step; the child is a fresh
interpreter in every way a step can see (its own process, log and outcome files, the same
environment and thread settings, nothing from an earlier step, since each child starts from
the same imported-but-unused state), so a step computes the same bytes and records the same
dependencies as before, plus the preloaded framework's package (recorded by version).

Nothing has run in the parent but the imports: no thread pool has started (TensorFlow and
torch start theirs lazily), which is what makes forking it safe. Whenever a warm interpreter
cannot serve (it failed to start, or died), ``isolation.run_step`` runs the step in a fresh
interpreter instead, the way it always could.

Run as ``python -m compbench.warm_interpreter MODULE...``: it imports the modules, prints
``ready``, then for each line ``OUT_DIR<tab>LOG_NAME`` on stdin runs ``compbench.step_worker``
on ``OUT_DIR`` in a forked child whose output goes to that log, and prints the child's exit
code.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

READY = "ready"

# the framework of the model a step works on: a Keras model's steps all load TensorFlow, and
# nearly every step of a torch model loads torch (one that does not now records it as well)
TENSORFLOW_PRELOAD = ("tensorflow", "tf_keras")
TORCH_PRELOAD = ("torch",)


def _run_child(out_dir: Path, log_name: str) -> int:
    from compbench.step_worker import main

    importlib.invalidate_caches()   # modules written since the parent looked at its path
    log = os.open(out_dir / log_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        return main(out_dir)
    except BaseException:  # noqa: BLE001 - main reports step errors itself; this is a crash
        import traceback

        traceback.print_exc()
        return 1


def serve(preload: Sequence[str]) -> None:
    for name in preload:
        importlib.import_module(name)
    print(READY, flush=True)
    for line in sys.stdin:
        out_dir, _, log_name = line.rstrip("\n").partition("\t")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = _run_child(Path(out_dir), log_name)
            try:   # what a fresh interpreter would run at its exit (temporary folders, ...)
                atexit._run_exitfuncs()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


class WarmInterpreter:
    """The parent's handle on one warm interpreter: one step at a time."""

    def __init__(self, preload: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compbench.warm_interpreter", *preload], cwd=cwd, env=dict(env),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ready = self.process.stdout.readline().strip() == READY

    def run(self, out_dir: Path, log_name: str) -> int | None:
        """The step's exit code, or None if this interpreter could not run it."""
        if not self.ready or self.process.poll() is not None:
            return None
        try:
            self.process.stdin.write(f"{out_dir}\t{log_name}\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
            return int(answer)
        except (OSError, ValueError):
            self.ready = False
            return None

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


class WarmInterpreters:
    """One warm interpreter per calling thread (the prebuild runs steps side by side), per
    environment (a test that changes it gets interpreters of its own) and per preload; the
    least recently used idle ones are closed beyond ``KEEP``, since each holds a framework."""

    KEEP = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple, WarmInterpreter] = OrderedDict()
        atexit.register(self.close)

    def run(self, preload: Sequence[str], env: Mapping[str, str], cwd: Path, out_dir: Path,
            log_name: str) -> int | None:
        # pytest names the running test in the environment: not something a step reads
        same = tuple(sorted((k, v) for k, v in env.items() if k != "PYTEST_CURRENT_TEST"))
        key = (threading.get_ident(), tuple(preload), str(cwd), same)
        with self._lock:   # taken out while it runs: no other thread can use or close it
            interpreter = self._idle.pop(key, None)
        if interpreter is None:
            interpreter = WarmInterpreter(preload, env, cwd)
        code = interpreter.run(out_dir, log_name)
        if code is None:
            interpreter.close()
            return None
        with self._lock:
            self._idle[key] = interpreter
            surplus = [self._idle.popitem(last=False)[1] for _ in range(len(self._idle) - self.KEEP)]
        for old in surplus:
            old.close()
        return code

    def close(self) -> None:
        with self._lock:
            interpreters, self._idle = list(self._idle.values()), OrderedDict()
        for interpreter in interpreters:
            interpreter.close()


if __name__ == "__main__":
    serve(sys.argv[1:])
