"""``pytest bench -n N`` (runner/distributed.py): build groups stay on one worker, timing runs
last and alone, and the controller's report equals a serial session's."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import execnet.script.socketserver as execnet_socketserver

from compbench import hardware
from compbench.runner.baselines import baseline_path
from compbench.runner.distributed import (
    TIMING_GROUP,
    build_group,
    foreign_machines,
    make_scheduler,
    unit_cost,
    work_unit,
)
from compbench.runner.durations import StepTimes
from compbench.runner.matrix import VARIANTS
from compbench.runner.results import LatencySummary, VariantResult
from compbench.runner.results_file import merge_result
from compbench.settings import ASSETS_ENV, REPO_ROOT, resolve_assets_dir
from tests.tracked_copy import copy_tracked_files


def test_a_chain_is_scheduled_with_the_row_it_starts_from():
    assert build_group(VARIANTS["scrfd_500m_kps/pruned-20+int8-ort/openvino"]) \
        == build_group(VARIANTS["scrfd_500m_kps/pruned-20/torch"]) == "scrfd_500m_kps/pruned-20"
    assert build_group(VARIANTS["scrfd_500m_kps/pruned+int8-ort/onnxruntime"]) == "scrfd_500m_kps/pruned"
    assert build_group(VARIANTS["resnet20/int8-ort/openvino"]) == "resnet20/int8-ort"


def test_work_units():
    variant = "scrfd_500m_kps/int8-ort/openvino"
    assert work_unit(f"bench/test_accuracy.py::test_accuracy[{variant}]") == "scrfd_500m_kps/int8-ort"
    assert work_unit(f"bench/test_size.py::test_size[{variant}]") == "scrfd_500m_kps/int8-ort"
    assert work_unit(f"bench/test_speed.py::test_speed[{variant}]") == TIMING_GROUP
    assert work_unit("tests/test_cache.py::test_x") == "tests/test_cache.py::test_x"
    assert work_unit("tests/test_x.py::test_y[a/b]@mine") == "mine"   # --dist loadgroup marks


class FakeConfig:
    class option:  # noqa: N801 - mirrors config.option
        loadscopereorder = True

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers

    def getvalue(self, name):
        return {"tx": [f"{self.workers}*popen"]}[name]

    def getoption(self, name, default=None):   # the cache and --footprint as defaulted
        return default


class FakeNode:
    def __init__(self, name: str) -> None:
        self.name, self.sent, self.shutting_down = name, [], False
        self.gateway = type("Gateway", (), {"id": name})()

    def send_runtest_some(self, indices) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def collection() -> list[str]:
    ids = ["resnet20/fp32/onnxruntime", "resnet20/int8-ort/onnxruntime"]
    return ([f"bench/test_accuracy.py::test_accuracy[{v}]" for v in ids]
            + [f"bench/test_speed.py::test_speed[{v}]" for v in ids])


def test_timing_runs_last_on_the_last_worker_alone(tmp_path, monkeypatch):
    # the unit costs come from the cache's step times: an empty cache, not whatever this
    # machine's holds (which reordered the units and failed the test on a well-used cache)
    monkeypatch.setenv("COMPBENCH_CACHE", str(tmp_path / "cache"))
    sched = make_scheduler(FakeConfig(), log=None)
    a, b = FakeNode("a"), FakeNode("b")
    tests = collection()
    for node in (a, b):
        sched.add_node(node)
        sched.add_node_collection(node, tests)
    sched.schedule()
    # one build group each; the timing unit (the largest) is held back
    assert sorted(a.sent + b.sent) == [0, 1]
    assert TIMING_GROUP in sched.workqueue
    first, second = (a, b) if a.sent == [0] else (b, a)
    sched.mark_test_complete(first, first.sent[0])
    # only timing is left and the other still builds: the first to run low is let go
    assert first.shutting_down and TIMING_GROUP in sched.workqueue
    sched.mark_test_complete(second, second.sent[0])
    assert second.sent[1:] == [] and not second.shutting_down   # waits for the first to exit
    sched.remove_node(first)
    # the machine is the last worker's: it takes every timing test
    assert second.sent[1:] == [2, 3] and not sched.workqueue


def test_the_longest_build_group_is_handed_out_first():
    """LPT by the recorded step times: the fine-tuned SCRFD row before the CIFAR rows, though
    it has the fewest tests (xdist's own order: the most tests first); timing still last."""
    qat, ort, fp32 = "scrfd_500m_kps/int8-qat", "resnet20/int8-ort", "resnet20/fp32"
    times = StepTimes({f"recipes:{qat}": 900.0, f"recipes:{ort}": 60.0, f"recipes:{fp32}": 20.0})
    ids = [f"{qat}/torch", f"{ort}/onnxruntime", f"{ort}/openvino", f"{fp32}/onnxruntime",
           f"{fp32}/torch", f"{fp32}/openvino"]
    tests = ([f"bench/test_accuracy.py::test_accuracy[{v}]" for v in ids]
             + [f"bench/test_speed.py::test_speed[{v}]" for v in ids])
    sched = make_scheduler(FakeConfig(workers=1), log=None, times=times)
    node = FakeNode("a")
    sched.add_node(node)
    sched.add_node_collection(node, tests)
    sched.schedule()
    done = 0
    while done < len(node.sent):
        sched.mark_test_complete(node, node.sent[done])
        done += 1
    units = [work_unit(tests[i]) for i in node.sent]
    assert list(dict.fromkeys(units)) == [qat, ort, fp32, TIMING_GROUP]


def test_a_units_cost_counts_a_shared_step_once():
    times = StepTimes({"recipes:resnet20/int8-ort": 60.0}, {"resnet20/int8-ort": "onnx"})
    one = ["bench/test_accuracy.py::test_accuracy[resnet20/int8-ort/onnxruntime]"]
    two = one + ["bench/test_size.py::test_size[resnet20/int8-ort/onnxruntime-1t]"]
    # onnxruntime-1t: the same recipe, no conversion, the same evaluation (one engine module)
    assert unit_cost(two, times, footprint=False) == unit_cost(one, times, footprint=False) == 61.0
    assert unit_cost(["tests/test_cache.py::test_x"], times, footprint=False) == 0


def test_merging_keeps_what_each_worker_measured():
    variant = VARIANTS["resnet20/int8-ort/onnxruntime"]
    ours = VariantResult(variant, metrics={"top1": 0.8}, inconclusive=["a"])
    theirs = VariantResult(variant, latency=LatencySummary(1, 2, 3, 4, 5), size_bytes=10,
                           inconclusive=["b"])
    merge_result(ours, theirs)
    assert ours.metrics == {"top1": 0.8} and ours.size_bytes == 10
    assert ours.latency.p50_ms == 2 and ours.inconclusive == ["a", "b"]


def test_a_baseline_update_refuses_workers_on_another_cpu_model():
    here = hardware.current()
    other = dataclasses.replace(here, model=str(int(here.model) + 1) if here.model.isdigit() else "x")
    assert foreign_machines([here, here]) == []
    assert foreign_machines([here, other]) == [other.describe()]


# -- a real session, serially and on two workers ------------------------------------------
SELECTION = "resnet20 and onnxruntime-1t and (fp32 or int8-ort)"


def run_session(tmp_path: Path, name: str, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / name
    out.mkdir()
    shutil.copy(baseline_path("default"), out / "default.json")
    done = subprocess.run(
        # the suite by -o testpaths and paths as --option=value: xdist maps path arguments onto
        # rsync roots for a remote worker, and refuses a path outside them (README)
        [sys.executable, "-m", "pytest", "-o", "testpaths=bench", "-q", "-p", "no:randomly",
         "-k", SELECTION, f"--baselines-dir={out}", f"--report-dir={out / 'reports'}",
         f"--history={out / 'history.sqlite'}", f"--benchmark-storage={out / 'benchmarks'}",
         f"--junitxml={out / 'junit.xml'}", "--speed-budget", "1", "--footprint", *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "COMPBENCH_HISTORY": ""})
    return done, out


def outcomes(out: Path) -> dict[str, str]:
    """test name → passed / failed / skipped, from the junit file (speed tests left out: their
    verdict depends on the machine's noise, not on how the session was run)."""
    found = {}
    for case in ET.parse(out / "junit.xml").getroot().iter("testcase"):
        if case.get("name").startswith("test_speed"):
            continue
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[case.get("name")] = kinds[0] if kinds else "passed"
    return found


def measured(out: Path) -> tuple[dict, dict, dict]:
    with sqlite3.connect(out / "history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1  # written once
        metrics = {(v, m): value for v, m, value in db.execute(
            "SELECT variant, metric, value FROM metrics")}
        sizes = {v: (raw, gz) for v, raw, gz in db.execute(
            "SELECT variant, size_bytes, size_gzip_bytes FROM results")}
        timed = {v: (p50, speedup) for v, p50, speedup in db.execute(
            "SELECT variant, p50_ms, speedup FROM results")}
    return metrics, sizes, timed


def test_two_workers_give_the_serial_numbers_with_timing_once(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    serial, serial_out = run_session(tmp_path, "serial")
    spread, spread_out = run_session(tmp_path, "spread", "-n", "2")
    assert "Traceback" not in spread.stdout + spread.stderr, spread.stdout[-3000:]
    assert outcomes(spread_out) == outcomes(serial_out), spread.stdout[-3000:]
    assert len(outcomes(spread_out)) == 9   # accuracy 2, census 2, floor 1, footprint 2, size 2

    serial_metrics, serial_sizes, serial_timed = measured(serial_out)
    spread_metrics, spread_sizes, spread_timed = measured(spread_out)
    assert spread_metrics == serial_metrics and len(serial_metrics) == 2
    assert spread_sizes == serial_sizes
    # the latency was measured (by the one timing worker) for both variants, and the
    # compressed one's paired speed-up with it
    assert all(p50 and p50 > 0 for p50, _ in spread_timed.values()), spread_timed
    assert spread_timed["resnet20/int8-ort/onnxruntime-1t"][1] > 0
    with sqlite3.connect(spread_out / "history.sqlite") as db:   # --footprint: batch throughput too
        rates = {v: json.loads(t or "{}") for v, t in db.execute("SELECT variant, throughput FROM results")}
    assert sorted(rates["resnet20/fp32/onnxruntime-1t"]) == ["1", "100"], rates
    # one report, by the controller
    assert len(list((spread_out / "reports").glob("report-*.md"))) == 1, \
        sorted(p.name for p in (spread_out / "reports").iterdir())
    assert "compbench comparison" in spread.stdout
    # the worker's calibration began at its first timing test, the serial one before any test
    report = next((spread_out / "reports").glob("report-*.md")).read_text()
    assert "before the first timing test" in report, report[:2000]
    assert "before the first test" in next((serial_out / "reports").glob("report-*.md")).read_text()
    assert len(list((spread_out / "reports").glob("results-*.json"))) == 1   # for compbench merge
    # pytest-benchmark's saved run holds both timings (the timing worker saved it)
    saved = list((spread_out / "benchmarks").rglob("*.json"))
    assert len(saved) == 1
    assert len(json.loads(saved[0].read_text())["benchmarks"]) == 2


def test_timing_under_another_dist_mode_fails_with_the_reason(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    done, _ = run_session(tmp_path, "loadfile", "-n", "2", "--dist", "loadfile")
    assert done.returncode == 1
    assert "timing under this --dist mode is refused" in done.stdout


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_worker_on_another_host_through_a_socket_gateway(tmp_path, asset_file):
    """What the README's several-hosts recipe does, on loopback: one local worker and one in a
    socket server (on another machine: started there, in the same environment, with the assets
    at the same setting). The other host's checkout is a copy of this one's tracked files, as a
    clone there would be: xdist copies pytest into a remote worker's folder, which must not be
    this checkout."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    other_host = copy_tracked_files(tmp_path / "other-host")
    before = {p.name for p in REPO_ROOT.iterdir()}
    port = free_loopback_port()
    server = subprocess.Popen([sys.executable, execnet_socketserver.__file__, f"127.0.0.1:{port}"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, ASSETS_ENV: str(resolve_assets_dir())})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the socket server did not start"
                time.sleep(0.2)
        # the probe connection above was served (and ended) by the server's loop: it goes on
        done, out = run_session(tmp_path, "hosts", "-vv", "--dist", "load", "--tx", "popen",
                                "--tx", f"socket=127.0.0.1:{port}//chdir={other_host}")
    finally:
        server.kill()
        server.wait()
    assert set(outcomes(out).values()) == {"passed"}, done.stdout[-3000:]
    assert "[gw0]" in done.stdout and "[gw1]" in done.stdout   # both hosts ran tests
    metrics, sizes, timed = measured(out)
    assert len(metrics) == 2 and all(all(pair) for pair in sizes.values())
    assert all(p50 for p50, _ in timed.values())   # timed, once, on one of them
    landed = {"pytest", "_pytest"} & ({p.name for p in REPO_ROOT.iterdir()} - before)
    assert not landed, f"xdist's copy for the remote worker landed in this checkout: {landed}"


def test_a_baseline_update_on_two_workers_is_written_once_by_the_controller(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    done, out = run_session(tmp_path, "record", "-n", "2", "--update-baselines",
                            "--benchmark-disable")
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.stdout.count("baselines updated") + done.stdout.count("baselines unchanged") == 1
    data = json.loads((out / "default.json").read_text())
    metrics, sizes, _ = measured(out)
    for variant_id, (raw, _gzip) in sizes.items():
        assert data["variants"][variant_id]["shared"]["size_bytes"]["value"] == raw
    int8 = "resnet20/int8-ort/onnxruntime-1t"
    stored = data["variants"][int8]["by_hardware"][hardware.current().hardware_class]["top1"]
    assert stored["value"] == round(metrics[(int8, "top1")], 6)
    assert "-n 2" in data["recordings"][stored["recorded"]]["command"]
