"""Bad input ends in one clear message, and baselines change only when asked to."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from compbench.errors import NonFiniteOutput
from compbench.settings import REPO_ROOT
from compbench.tasks.base import checked

VARIANT = "resnet20/fp32/torch"


def test_nan_outputs_stop_evaluation_naming_the_variant():
    run = checked(lambda x: [np.ones(3), np.array([0.5, np.nan])], "m/c/e")
    with pytest.raises(NonFiniteOutput) as info:
        run(np.zeros(1))
    assert "m/c/e: output 1 contains NaN" in str(info.value)


def test_nan_from_a_real_broken_model(asset_file, assets):
    from compbench.models.scrfd.network import torch_runner
    from compbench.models.scrfd.weights import load_scrfd_500m_kps
    from compbench.tasks.widerface import WiderFaceTask

    model = load_scrfd_500m_kps(asset_file("scrfd/SCRFD_500M_KPS.pth"))
    with torch.no_grad():
        model.backbone.stem[0][0].weight[0, 0, 0, 0] = float("nan")
    task = WiderFaceTask(assets)
    task.images = task.images[:1]
    with pytest.raises(NonFiniteOutput, match="broken-variant"):
        task.evaluate(torch_runner(model), "broken-variant")


class _RunsCode:
    """What a crafted pickle does: unpickling calls ``Path.touch(marker)``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return type(self.marker).touch, (self.marker,)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path, protocol):
    """The python batches are pickles read from the assets folder: loading one may build the
    numpy array it holds, never call anything else."""
    from compbench.errors import AssetCorrupt
    from compbench.evaluation.cifar10 import load_cifar10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], b"batch_label": b"x"}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol))
    assert len(load_cifar10(tmp_path, "test")) == 2   # a real batch still loads
    batch[b"filenames"] = _RunsCode(marker)
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol))
    with pytest.raises(AssetCorrupt) as info:
        load_cifar10(tmp_path, "test")
    assert not marker.exists()
    assert str(info.value).startswith(f"cannot read CIFAR-10 batch {folder / 'test_batch'}: it "
                                      f"names ")
    assert "which a CIFAR-10 batch never holds (refused: loading it would run that code)" \
        in str(info.value)


def run_bench(tmp_path, *extra: str, tests: str = "bench/test_size.py",
              env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", tests, "-q", "-k", VARIANT, "-p", "no:randomly",
         "--baselines-dir", str(tmp_path), "--report-dir", str(tmp_path / "reports"),
         "--benchmark-storage", str(tmp_path / "benchmarks"), *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})})


def test_baselines_are_written_only_with_the_flag(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    baseline = tmp_path / "default.json"

    gated = run_bench(tmp_path)
    assert gated.returncode == 1, gated.stdout
    assert "no baseline for 'size_bytes'" in gated.stdout
    assert not baseline.exists()

    recorded = run_bench(tmp_path, "--update-baselines")
    assert recorded.returncode == 0, recorded.stdout
    assert "baselines updated" in recorded.stdout and "(new)" in recorded.stdout
    data = json.loads(baseline.read_text())
    record = data["variants"][VARIANT]["shared"]["size_bytes"]
    assert record["value"] > 100_000
    provenance = data["recordings"][record["recorded"]]
    assert {"date", "git_commit", "machine", "packages", "command", "engine_threads"} <= set(provenance)
    assert {"hardware_class", "flags", "vendor", "model", "cores"} <= set(provenance["machine"])

    before = baseline.read_bytes()
    again = run_bench(tmp_path)
    assert again.returncode == 0, again.stdout
    assert baseline.read_bytes() == before


def test_malformed_baseline_is_one_error(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    (tmp_path / "default.json").write_text('{"variants": {')
    result = run_bench(tmp_path)
    assert result.returncode != 0
    assert f"baseline file {tmp_path / 'default.json'} is not valid JSON" in result.stdout


@pytest.mark.parametrize("where", ["variant", "nested metric"])
def test_a_key_recorded_twice_in_a_baseline_is_one_error(tmp_path, where):
    """A hand merge that keeps both copies of an entry: JSON would keep the last one silently."""
    from compbench.errors import BaselineError
    from compbench.runner.baselines import Baselines

    text = (REPO_ROOT / "baselines" / "default.json").read_text()
    data = json.loads(text)
    variant, entry = next(iter(data["variants"].items()))
    if where == "variant":
        key = variant
        opening = '"variants": {'
        doubled = text.replace(opening, f"{opening}{json.dumps(variant)}: {json.dumps(entry)},", 1)
    else:
        key = "top1"
        opening = '"tolerances": {'
        doubled = text.replace(opening, f'{opening}"top1": {{"abs": 0.5}},', 1)
    assert doubled != text and json.loads(doubled) == data   # plain JSON: the copy vanishes
    path = tmp_path / "default.json"
    path.write_text(doubled)
    with pytest.raises(BaselineError) as info:
        Baselines.load("default", path)
    assert (f"baseline file {path} holds the key {key!r} twice in one object" in str(info.value)
            and "git checkout --" in str(info.value))


def test_a_missing_assets_folder_is_red_not_all_skipped(tmp_path):
    for wrong in (["--assets", str(tmp_path / "nonexistent")],
                  []):
        env = {} if wrong else {"COMPBENCH_ASSETS": str(tmp_path / "typo")}
        result = run_bench(tmp_path, *wrong, env=env)
        assert result.returncode == 3, result.stdout[-2000:]
        assert "cannot be gated, nothing was run" in result.stdout
        assert "asset not found" in result.stdout and "Get it from" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("engines", ["onnxruntime,openvno", "torch,", "TORCH"])
def test_an_unknown_engine_is_one_usage_error(tmp_path, engines):
    from compbench.engines.registry import ENGINES

    result = run_bench(tmp_path, "--engine", engines)
    assert result.returncode == 4
    assert "unknown engine name" in result.stderr and f"known: {', '.join(ENGINES)}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("families", ["tf", "torch,", "onnxruntime,Torch"])
def test_an_unknown_engine_family_is_one_usage_error(tmp_path, families):
    from compbench.engines.registry import families as declared

    result = run_bench(tmp_path, "--engine-family", families)
    assert result.returncode == 4
    assert "unknown engine family name" in result.stderr
    assert f"known: {', '.join(sorted(declared()))}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_engine_family_selects_the_engines_declaring_it(tmp_path):
    from compbench.engines.registry import families

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_size.py", "--collect-only", "-q",
         "--engine-family", "torch", "-k", "resnet20/fp32"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:]
    engines = {line.rpartition("/")[2].rstrip("]") for line in result.stdout.splitlines()
               if "resnet20/fp32/" in line}
    assert engines == set(families()["torch"])


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
@pytest.mark.parametrize("option, expected", [("--build-jobs", "a whole number >= 1"),
                                              ("--speed-budget", "a finite number of seconds > 0")])
def test_a_numeric_option_at_its_limit_is_one_usage_error(option, expected, value):
    """At start-up: ``--build-jobs 0`` meant "all cores" and ``--speed-budget inf`` overflowed
    in the first speed test, after the builds."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/test_quiet.py", option,
         value], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert f"error: argument {option}: expected {expected}, got {value!r}" in result.stderr


def test_a_profile_outside_the_baselines_folder_is_refused(tmp_path):
    result = run_bench(tmp_path, "--profile", "../x")
    assert result.returncode == 4 and "not a profile name" in result.stderr
    assert not (REPO_ROOT / "x.json").exists()


def updating_with(tmp_path, extra_test: str, name: str) -> list[str]:
    """A recording session of the size test plus one more test file (failing or slow)."""
    extra = tmp_path / f"test_{name}.py"
    extra.write_text(extra_test)
    return [sys.executable, "-m", "pytest", "bench/test_size.py", str(extra), "-q", "-s", "-k",
            f"{VARIANT} or {name}", "--baselines-dir", str(tmp_path), "--update-baselines",
            "--report-dir", str(tmp_path / "reports"), "--rootdir", str(REPO_ROOT)]


def test_a_failing_session_does_not_update_baselines(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    baseline = tmp_path / "default.json"
    assert run_bench(tmp_path, "--update-baselines").returncode == 0
    before = baseline.read_bytes()
    # the same session plus a test that fails: nothing may be written
    result = subprocess.run(updating_with(tmp_path, "def test_broken():\n    assert False\n",
                                          "broken"),
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert "baselines NOT updated" in result.stdout
    assert baseline.read_bytes() == before


def test_ctrl_c_leaves_the_baseline_file_byte_identical(tmp_path, asset_file):
    asset_file("cifar10/models/resnet20-12fca82f.th")
    baseline = tmp_path / "default.json"
    assert run_bench(tmp_path, "--update-baselines").returncode == 0
    before = baseline.read_bytes()
    started = tmp_path / "slow-test-started"
    process = subprocess.Popen(
        updating_with(tmp_path, "import pathlib, time\ndef test_slow():\n"
                                f"    pathlib.Path({str(started)!r}).touch()\n"
                                "    time.sleep(60)\n", "slow"),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # as from a terminal: a background job of a non-interactive shell (how CI scripts and
        # `cmd &` start this suite) inherits SIGINT ignored, and so would the session
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not started.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)  # collection, prebuild (cached) and the size tests come first
    assert started.exists(), "the slow test never started"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2, output[-2000:]
    assert "baselines NOT updated" in output
    assert baseline.read_bytes() == before


def test_a_variant_with_nan_outputs_leaves_no_timing(tmp_path, asset_file):
    """Its latency test fails before pytest-benchmark times it, so nothing is saved for
    ``--benchmark-compare`` to compare with later."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    broken = tmp_path / "weights.th"
    checkpoint = torch.load(asset_file("cifar10/models/resnet20-12fca82f.th"), map_location="cpu",
                            weights_only=False)
    state = checkpoint["state_dict"]
    first = next(k for k in state if k.endswith("conv1.weight"))
    state[first] = torch.full_like(state[first], float("nan"))
    torch.save(checkpoint, broken)
    result = run_bench(tmp_path, "--asset", f"cifar10/models/resnet20-12fca82f.th={broken}",
                       "--benchmark-autosave", tests="bench/test_speed.py",
                       env={"COMPBENCH_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 1, result.stdout[-2000:]
    assert "contains NaN or infinity" in result.stdout
    assert not list((tmp_path / "benchmarks").rglob("*.json"))


def test_a_collection_error_is_reported_before_any_build(tmp_path, asset_file):
    """CI once built the whole cache for 26 minutes and then reported a module-name clash."""
    asset_file("cifar10/models/resnet20-12fca82f.th")
    broken = tmp_path / "broken" / "test_broken_module.py"
    broken.parent.mkdir()
    broken.write_text("import this_module_does_not_exist\n")
    cache = tmp_path / "cache"
    result = run_bench(tmp_path, str(broken), "--cache-dir", str(cache), "--build-jobs", "2")
    assert result.returncode == 2, result.stdout
    assert "ModuleNotFoundError" in result.stdout
    assert " ready (" not in result.stdout
    assert not cache.exists() or not any(cache.rglob("*.onnx")) and not any(cache.rglob("*.json"))
