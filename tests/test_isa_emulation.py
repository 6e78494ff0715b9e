"""Emulating a lower hardware class: the caps reach the engines, the class is what the run reports
and keys its cache by, engines that cannot be capped are not measured, and a recording writes
only that class's values."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from compbench import isa_emulation
from compbench.hardware import current
from compbench.runner.baselines import Baselines, empty
from compbench.settings import REPO_ROOT

NATIVE = current().hardware_class
LOWER = "x86_64-avx2"
needs_a_higher_machine = pytest.mark.skipif(
    not NATIVE.startswith("x86_64-") or NATIVE == LOWER,
    reason=f"emulating {LOWER} needs an x86-64 machine above it (this one: {NATIVE})")


def run_python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != isa_emulation.VARIABLE} | env
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("requested, fragment", [
    ("x86_64-amx", "not a class that can be emulated"),
    ("x86_64-sse4", "not a class that can be emulated"),
    ("aarch64-avx2", "another architecture"),
])
def test_what_cannot_be_emulated_is_refused_with_the_fix(requested, fragment):
    with pytest.raises(isa_emulation.EmulationError, match=fragment) as caught:
        isa_emulation.check(requested, "x86_64-avx512-vnni")
    assert isa_emulation.VARIABLE in str(caught.value)


def test_a_class_above_this_machine_is_refused():
    with pytest.raises(isa_emulation.EmulationError, match="above this machine's class"):
        isa_emulation.check("x86_64-avx512-vnni", "x86_64-avx2")
    isa_emulation.check("x86_64-avx2", "x86_64-avx512-vnni")   # below: fine


@needs_a_higher_machine
def test_the_caps_reach_torch_and_the_machine_reports_the_emulated_class():
    code = ("import compbench, json, torch; from compbench.hardware import current; "
            "from compbench.engines.torch_eager import use_emulated_quantized_engine; "
            "use_emulated_quantized_engine(); "
            "print(json.dumps([current().hardware_class, current().emulated_on, "
            "torch.backends.cpu.get_cpu_capability(), torch.backends.quantized.engine]))")
    emulated = json.loads(run_python(code, **{isa_emulation.VARIABLE: LOWER}))
    assert emulated == [LOWER, NATIVE, "AVX2", "fbgemm"]
    native = json.loads(run_python(code))
    assert native[:2] == [NATIVE, ""] and native[2] != "AVX2"


@needs_a_higher_machine
def test_an_emulated_run_has_cache_keys_of_its_own():
    code = ("import compbench; from compbench.assets import Assets; "
            "from compbench.cache import ArtifactCache, cache_key; "
            "from compbench.runner.matrix import VARIANTS; "
            "from compbench.runner.pipeline import VariantPipeline; "
            "p = VariantPipeline(VARIANTS['resnet20/int8-ort/openvino'], Assets(), "
            "ArtifactCache('/nonexistent')); p.prepare(); print(cache_key(p._recipe_inputs_direct()))")
    assert run_python(code) != run_python(code, **{isa_emulation.VARIABLE: LOWER})


def test_engines_that_pick_kernels_from_cpuid_are_not_measured_under_emulation(monkeypatch):
    monkeypatch.setenv(isa_emulation.VARIABLE, LOWER)
    monkeypatch.delenv(isa_emulation.EMULATOR_VARIABLE, raising=False)
    assert "MLAS" in isa_emulation.reason_not_emulated("onnxruntime")
    assert "XNNPACK" in isa_emulation.reason_not_emulated("tflite")
    assert isa_emulation.reason_not_emulated("openvino") is None
    assert "no known" in isa_emulation.reason_not_emulated("an-engine-of-tomorrow")
    monkeypatch.delenv(isa_emulation.VARIABLE)
    assert isa_emulation.reason_not_emulated("onnxruntime") is None



def test_the_check_reports_the_reason_the_engine_gave_whatever_its_wording(monkeypatch, tmp_path):
    """The reason travels as an attribute of NotEmulated: one with parentheses in it (which
    taking it back out of the message between "(" and ")" cut short) arrives whole."""
    import pickle

    from compbench.errors import NotEmulated
    from compbench.runner import emulation_check

    reason = "MLAS picks its kernels from CPUID (cpuinfo) and has no switch to cap them"
    monkeypatch.setitem(isa_emulation.NOT_EMULATED, "onnxruntime", reason)
    monkeypatch.setenv(isa_emulation.VARIABLE, LOWER)
    monkeypatch.setenv("COMPBENCH_CACHE", str(tmp_path))
    variant_id = "resnet20/int8-ort/onnxruntime"
    assert emulation_check._measure_here([variant_id]) == {variant_id: {"not_emulated": reason}}

    error = NotEmulated("message", engine="onnxruntime", reason=reason)
    copy = pickle.loads(pickle.dumps(error))   # as it crosses a process boundary
    assert (str(copy), copy.engine, copy.reason) == ("message", "onnxruntime", reason)

def test_an_emulated_recording_writes_only_that_class_and_no_cpu_model_value(tmp_path):
    data = empty("p")
    data["recordings"] = {"r1": {"git_commit": "abc"}}
    data["variants"] = {"scrfd_500m_kps/int8-qat/torch": {
        "shared": {"size_bytes": {"value": 100, "recorded": "r1"}}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    stored = Baselines(path, data, hardware_class=LOWER, cpu="AuthenticAMD-25-17")
    stored.emulated = True
    # int8-qat's accuracy is kept per CPU model (CPU models of one class differ): emulation
    # cannot stand for another CPU model; int8-ptq's is per class
    new, changes = stored.updated({"scrfd_500m_kps/int8-qat/torch": {"hard": 0.6, "size_bytes": 90},
                                   "scrfd_500m_kps/int8-ptq/torch": {"hard": 0.59}},
                                  {"machine": {"emulated_on": NATIVE}})
    entry = new["variants"]["scrfd_500m_kps/int8-qat/torch"]
    assert "by_hardware" not in entry and any("kept per CPU model" in line for line in changes)
    assert entry["shared"]["size_bytes"]["value"] == 100   # shared values: native recordings only
    ptq = new["variants"]["scrfd_500m_kps/int8-ptq/torch"]["by_hardware"]
    assert list(ptq) == [LOWER] and ptq[LOWER]["hard"]["value"] == 0.59


def _file_with_real_and_emulated_values(tmp_path):
    data = empty("p")
    data["recordings"] = {"real": {"machine": {"hardware_class": LOWER}},
                          "emu": {"machine": {"hardware_class": LOWER, "emulated_on": NATIVE}}}
    data["variants"] = {
        "resnet20/int8-ort/openvino": {"by_hardware": {LOWER: {"top1": {"value": 0.811,
                                                                        "recorded": "real"}}}},
        "resnet20/int8-nncf/openvino": {"by_hardware": {LOWER: {"top1": {"value": 0.8089,
                                                                         "recorded": "real"}}}},
        "resnet20/int8-ptq/torch": {"by_hardware": {LOWER: {"top1": {"value": 0.81,
                                                                     "recorded": "emu"}}}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return Baselines.load("p", path)


def test_the_check_compares_with_real_recordings_only_and_records_the_disagreements(tmp_path):
    from compbench.runner import emulation_check

    stored = _file_with_real_and_emulated_values(tmp_path)
    assert set(emulation_check.real_values(stored, LOWER)) == {
        "resnet20/int8-ort/openvino", "resnet20/int8-nncf/openvino"}   # not the emulated one
    rows = emulation_check.compare(stored, LOWER, {
        "resnet20/int8-ort/openvino": {"top1": 0.8113},     # within the 0.005 default
        "resnet20/int8-nncf/openvino": {"top1": 0.8001}})   # 0.88 pt off
    assert [row.agrees for row in rows] == [False, True]
    assert "needs a real machine" in emulation_check.render(rows, LOWER, NATIVE)
    emulation_check.record(stored, LOWER, rows)
    written = json.loads(stored.path.read_text())["emulation"][LOWER]
    assert list(written) == ["resnet20/int8-nncf/openvino"] and "-0.0088" in written[
        "resnet20/int8-nncf/openvino"]

    # an emulated recording leaves that row to real machines, even once its value is gone
    emulated = Baselines.load("p", stored.path)
    emulated.hardware_class, emulated.emulated = LOWER, True
    del emulated.data["variants"]["resnet20/int8-nncf/openvino"]["by_hardware"]
    new, changes = emulated.updated({"resnet20/int8-nncf/openvino": {"top1": 0.8001}}, {"m": 1})
    assert "by_hardware" not in new["variants"]["resnet20/int8-nncf/openvino"]
    assert any("needs a real" in line for line in changes)


def test_an_emulated_recording_never_replaces_a_real_machines_value(tmp_path):
    stored = _file_with_real_and_emulated_values(tmp_path)
    stored.hardware_class, stored.emulated = LOWER, True
    new, changes = stored.updated({"resnet20/int8-ort/openvino": {"top1": 0.8113},
                                   "resnet20/int8-ptq/torch": {"top1": 0.8123}}, {"m": 2})
    by_hardware = {vid: new["variants"][vid]["by_hardware"][LOWER]["top1"]["value"]
                   for vid in ("resnet20/int8-ort/openvino", "resnet20/int8-ptq/torch")}
    assert by_hardware == {"resnet20/int8-ort/openvino": 0.811,   # real: kept
                           "resnet20/int8-ptq/torch": 0.8123}     # emulated before: replaced
    assert any("kept 0.811 from a real machine" in line for line in changes)


def test_the_check_refuses_a_selection_without_real_values_in_one_message(capsys):
    from compbench.runner.cli import main

    assert main(["emulation-check", LOWER, "no-such-variant"]) == 2
    assert "has values recorded on a real" in capsys.readouterr().err


def test_a_cpuid_emulator_makes_the_cpuid_engines_measurable_and_wraps_only_them(monkeypatch):
    monkeypatch.setenv(isa_emulation.VARIABLE, LOWER)
    monkeypatch.setenv(isa_emulation.EMULATOR_VARIABLE, "env -u NOTHING")
    for engine in isa_emulation.CPUID_ENGINES:
        assert isa_emulation.reason_not_emulated(engine) is None
        assert isa_emulation.evaluation_prefix(engine) == ["env", "-u", "NOTHING"]
    assert isa_emulation.evaluation_prefix("openvino") == []
    assert "Inductor" in isa_emulation.reason_not_emulated("torch-compile")
    monkeypatch.delenv(isa_emulation.VARIABLE)   # a native run is never wrapped
    assert isa_emulation.evaluation_prefix("onnxruntime") == []


@pytest.mark.parametrize("requested, command, fragment", [
    ("x86_64-avx512-vnni", "env", "a software CPU can present only the x86_64-avx2 class"),
    (LOWER, "qemu-of-nowhere -cpu max", "'qemu-of-nowhere' is not on PATH"),
])
def test_a_cpuid_emulator_that_cannot_do_the_job_is_refused_with_the_fix(
        monkeypatch, requested, command, fragment):
    monkeypatch.setenv(isa_emulation.VARIABLE, requested)
    monkeypatch.setenv(isa_emulation.EMULATOR_VARIABLE, command)
    with pytest.raises(isa_emulation.EmulationError, match=fragment):
        isa_emulation.evaluation_prefix("onnxruntime")


def test_a_step_runs_under_the_prefix_it_is_given(tmp_path, monkeypatch):
    """The prefix is really the program that starts the step's interpreter: here ``env``, which
    sets a variable the step then reads (QEMU is started the same way)."""
    from compbench.isolation import run_step
    from compbench.step_worker import OUTCOME_FILE

    (tmp_path / "probe_step.py").write_text(
        "import os\n\ndef environment(request, out_dir):\n"
        "    return os.environ.get('COMPBENCH_PREFIX_PROBE')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result, _ = run_step("probe_step:environment", {}, out_dir, "probe",
                         prefix=["env", "COMPBENCH_PREFIX_PROBE=under-the-prefix"])
    assert result == "under-the-prefix"
    (out_dir / OUTCOME_FILE).unlink(missing_ok=True)
    assert run_step("probe_step:environment", {}, out_dir, "probe")[0] is None


def test_the_check_reads_a_relative_tolerance_as_the_gate_does(tmp_path):
    from compbench.runner import emulation_check

    stored = _file_with_real_and_emulated_values(tmp_path)
    stored.data["tolerances"]["top1"] = {"rel": 0.01}    # 1 % of 0.811: 0.0081
    rows = emulation_check.compare(stored, LOWER, {"resnet20/int8-ort/openvino": {"top1": 0.818}})
    assert [(row.agrees, round(row.tolerance, 4)) for row in rows] == [(True, 0.0081)]
