"""A step forked from a warm interpreter must be what a fresh interpreter would have been: same
result, same recorded dependencies, nothing left over from the step before, and a crash or a
dead warm interpreter costs that step only."""

from __future__ import annotations

import os
import signal

import pytest

from compbench import isolation
from compbench.isolation import FRESH_STEPS_ENV, StepFailed, run_step

PROBE = '''
import os, sys

def imports(request, out_dir):
    import json.tool  # noqa: F401 - a module neither the warm parent nor a fresh start loads
    return {"pid": os.getpid(), "parent": os.getppid(), "torch": "torch" in sys.modules}

def leftovers(request, out_dir):
    return {"json.tool": "json.tool" in sys.modules, "pid": os.getpid(),
            "parent": os.getppid()}

def crash(request, out_dir):
    print("about to crash", flush=True)
    os.abort()
'''


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "probe_steps.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delenv(FRESH_STEPS_ENV, raising=False)
    counter = iter(range(100))

    def run(step: str, fresh: bool = False):
        out_dir = tmp_path / f"out{next(counter)}"
        out_dir.mkdir()
        return run_step(f"probe_steps:{step}", {}, out_dir, "probe", fresh=fresh)
    return run


def without_worker(dependencies: dict) -> dict:
    """The warm child imported ``compbench.step_worker`` as a module; a fresh interpreter runs it
    as ``__main__``: the one difference in what they record."""
    project = {k: v for k, v in dependencies["project"].items() if k != "compbench/step_worker.py"}
    return {**dependencies, "project": project}


def test_a_warm_step_records_what_a_fresh_one_does_plus_its_preloaded_framework(probe, monkeypatch):
    warm, warm_dependencies = probe("imports")
    monkeypatch.setenv(FRESH_STEPS_ENV, "1")
    fresh, fresh_dependencies = probe("imports")
    assert warm["torch"] and not fresh["torch"]
    assert warm["parent"] != os.getpid() and fresh["parent"] == os.getpid()
    warm_dependencies = without_worker(warm_dependencies)
    assert "torch" in warm_dependencies["distributions"]
    assert "torch" not in fresh_dependencies["distributions"]
    del warm_dependencies["distributions"]["torch"]
    assert set(warm_dependencies["distributions"]) >= set(fresh_dependencies["distributions"])
    assert warm_dependencies["project"] == fresh_dependencies["project"]


def test_a_step_that_measures_its_start_up_runs_fresh(probe):
    """The footprint step times importing the engine's library: a preloaded one would hide it."""
    assert probe("leftovers", fresh=True)[0]["parent"] == os.getpid()
    assert probe("leftovers")[0]["parent"] != os.getpid()


def test_each_step_starts_from_the_parent_not_from_the_step_before(probe):
    first, _ = probe("imports")
    second, _ = probe("leftovers")
    assert second["parent"] == first["parent"]        # the same warm interpreter served both
    assert second["pid"] != first["pid"]
    assert second["json.tool"] is False               # the first step's import did not carry over


def test_a_crashing_step_fails_alone_and_the_next_one_runs(probe):
    with pytest.raises(StepFailed) as failed:
        probe("crash")
    assert f"exit code -{int(signal.SIGABRT)}" in str(failed.value)
    assert "about to crash" in str(failed.value)   # its log, written by the forked child
    result, _ = probe("leftovers")
    assert result["json.tool"] is False


def test_a_dead_warm_interpreter_costs_one_fresh_start_then_is_replaced(probe):
    first, _ = probe("leftovers")
    os.kill(first["parent"], signal.SIGKILL)
    second, _ = probe("leftovers")
    third, _ = probe("leftovers")
    assert second["parent"] == os.getpid()                 # run fresh, not lost
    assert third["parent"] not in (os.getpid(), first["parent"])


def test_warm_interpreters_beyond_the_limit_are_closed(probe, monkeypatch, tmp_path):
    parents = []
    for index in range(isolation._WARM.KEEP + 2):
        monkeypatch.setenv("COMPBENCH_PROBE_ENV", str(index))   # a new environment: a new one
        parents.append(probe("leftovers")[0]["parent"])
    assert len(set(parents)) == len(parents)
    alive = [pid for pid in parents if _alive(pid)]
    assert len(alive) <= isolation._WARM.KEEP and parents[-1] in alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
