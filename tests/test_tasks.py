"""The task registry: each task module declares its metrics once and everything else reads them.

The import checks run in a fresh interpreter: what a process has loaded is what the artifact
cache keys its step by (``compbench.dependencies``), and this test process has loaded much more.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

import compbench.tasks as tasks
from compbench.bench.suite import MODELS
from compbench.runner import baselines as baselines_module
from compbench.runner.matrix import get_variant
from compbench.runner.report import model_table
from compbench.runner.results import Ledger
from compbench.settings import REPO_ROOT
from compbench.tasks.base import Tolerance, UnknownTask


def fresh_python(code: str) -> dict:
    """Run ``code`` in a new interpreter of this venv; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_every_model_finds_its_task_by_name():
    assert set(tasks.all_tasks()) == {"widerface", "cifar10"}
    for model in MODELS.values():
        declared = tasks.declaration(model.task)
        assert declared.name == model.task
        assert declared is tasks.all_tasks()[model.task]


def test_an_unknown_task_is_one_error_listing_the_known_ones():
    model = replace(next(iter(MODELS.values())), name="m", task="imagenet")
    with pytest.raises(UnknownTask) as info:
        tasks.create_task(model, assets=None)
    message = str(info.value)
    assert "'imagenet'" in message and "model m" in message
    assert "cifar10, widerface" in message
    # a module of the package that declares no task is no task either
    with pytest.raises(UnknownTask):
        tasks.declaration("base")


def test_every_declared_metric_has_what_the_report_and_the_gate_need():
    for declared in tasks.all_tasks().values():
        assert declared.main_metric in declared.metric_names
        assert declared.assets
        for metric in declared.metrics:
            assert metric.label and isinstance(metric.higher_is_better, bool)
            for tolerance in (metric.tolerance, metric.cross_hardware):
                assert tolerance.why.strip()
                assert (tolerance.abs is None) != (tolerance.rel is None)


def test_a_tolerance_needs_one_kind_and_no_negative_value():
    for bad in ({}, {"abs": 0.1, "rel": 0.1}, {"abs": -0.1}):
        with pytest.raises(ValueError):
            Tolerance("why", **bad)
    assert Tolerance("w", abs=0.005).as_entry() == {"abs": 0.005, "why": "w"}


def test_the_gate_reads_the_declarations_and_the_stored_values_are_unchanged():
    declared = {m.name: m for t in tasks.all_tasks().values() for m in t.metrics}
    assert baselines_module.accuracy_metrics() == tuple(declared)
    assert set(baselines_module.known_metrics()) == set(declared) | set(baselines_module.RUNNER_TOLERANCES)
    for name, metric in declared.items():
        assert baselines_module.default_tolerances()[name] == metric.tolerance.as_entry()
        assert baselines_module.cross_hardware_tolerances()[name] == metric.cross_hardware.as_entry()
    # The committed profile was recorded with these defaults: the declarations must gate it
    # exactly as before (the file's own "why" texts are kept; only the numbers must agree).
    stored = json.loads((REPO_ROOT / "baselines" / "default.json").read_text(encoding="utf-8"))

    def numbers(table: dict) -> dict:
        return {k: {kind: v for kind, v in tol.items() if kind != "why"} for k, tol in table.items()}

    assert numbers(stored["tolerances"]) == numbers(baselines_module.default_tolerances())
    assert numbers(stored["cross_hardware_tolerances"]) == numbers(
        baselines_module.cross_hardware_tolerances())


def test_the_gate_takes_the_direction_from_the_declaration(tmp_path, monkeypatch):
    variant = "scrfd_500m_kps/fp32/torch"
    data = baselines_module.empty("p")
    data["recordings"] = {"r": {}}
    data["variants"] = {variant: {"shared": {"hard": {"value": 0.6, "recorded": "r"}}}}
    stored = baselines_module.Baselines(tmp_path / "p.json", data, "x86_64-avx2")
    assert stored.check(variant, "hard", 0.5).problem.startswith("REGRESSION")
    lower = replace(tasks.metric("hard"), higher_is_better=False)
    monkeypatch.setattr(baselines_module, "declared_metric", lambda name: lower)
    assert stored.check(variant, "hard", 0.5).problem.startswith("STALE BASELINE")


def test_the_report_uses_the_declared_labels_in_the_declared_order():
    ledger = Ledger()
    for variant_id in ("scrfd_500m_kps/fp32/torch", "resnet20/fp32/torch"):
        result = ledger[get_variant(variant_id)]
        declared = tasks.declaration(result.variant.model.task)
        result.metrics = {name: 0.5 for name in sorted(declared.metric_names, reverse=True)}
        table = model_table(ledger, result.variant.model.name)
        labels = [m.label for m in declared.metrics]
        assert [c for c in table.columns if c in labels] == labels


def test_listing_the_tasks_loads_no_protocol_or_data_code():
    loaded = fresh_python(
        "import json, sys\nfrom compbench import tasks\n"
        "tasks.all_tasks(); tasks.declaration('widerface'); tasks.declaration('cifar10')\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "                        if m.startswith(('compbench.evaluation', 'compbench.models')))))")
    assert loaded == []


def test_looking_up_one_task_imports_only_its_module():
    loaded = fresh_python(
        "import json, sys\nfrom compbench import tasks\n"
        "tasks.declaration('cifar10')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('compbench.tasks'))))")
    assert loaded == ["compbench.tasks", "compbench.tasks.base", "compbench.tasks.cifar10"]


def _calibration_modules(asset_dir) -> list[str]:
    """Modules loaded by building the WIDER task as the compress step does (from the request
    JSON, without the matrix) and reading two calibration inputs."""
    asset_dir("widerface/calib/images")
    request = json.dumps(get_variant("scrfd_500m_kps/int8-ort/onnxruntime").as_request())
    return fresh_python(
        "import itertools, json, sys\n"
        "from compbench.assets import Assets\n"
        "from compbench.specs import Variant\n"
        "from tasks import create_task\n"
        f"variant = Variant.from_request(json.loads({request!r}))\n"
        "task = create_task(variant.model, Assets())\n"
        "assert len(list(itertools.islice(task.calibration_inputs(), 2))) == 2\n"
        "print(json.dumps(sorted(sys.modules)))")


EVALUATION_ONLY = ("compbench.evaluation.widerface.protocol", "compbench.evaluation.widerface.ground_truth",
                   "compbench.evaluation.widerface.prediction_files")


def test_the_wider_calibration_path_does_not_load_the_protocol(asset_dir):
    """A recipe lists and letterboxes calibration images; the AP code is not its dependency."""
    loaded = _calibration_modules(asset_dir)
    assert "compbench.evaluation.widerface.images" in loaded
    assert not set(EVALUATION_ONLY) & set(loaded)
