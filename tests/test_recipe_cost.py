"""The recipe-cost page's arithmetic (scripts/recipe_cost.py): FLOP counts from real layers, the
floor, and the page rendered from a cache folder's manifests. Nothing here times anything."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import recipe_cost  # noqa: E402
from recipe_cost import Work, floor_seconds, recipe_work, torch_forward_flops  # noqa: E402

FLOPS = {"scrfd_500m_kps@320": 4e8, "scrfd_500m_kps@640": 1.6e9, "pruned@320": 3e8,
         "pruned@640": 1.2e9, "pruned-20@320": 3.5e8, "pruned-20@640": 1.4e9,
         "teacher2.5g@320": 1.7e9, "resnet8": 2.5e7, "mobilenetv2": 1.3e7}


def test_conv_and_linear_flops_are_counted_from_the_shapes_the_layers_see():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8),   # depthwise
                          nn.Conv2d(8, 16, 1, stride=2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
    expected = 2 * (8 * 8 * 8 * 3 * 9        # 3->8, 3x3, 8x8 outputs
                    + 8 * 8 * 8 * 1 * 9      # depthwise: one input channel per output
                    + 16 * 4 * 4 * 8         # pointwise, stride 2
                    + 10 * 256)              # linear
    assert torch_forward_flops(model, (1, 3, 8, 8)) == expected
    assert torch_forward_flops(model, (2, 3, 8, 8)) == expected   # per image


def test_the_floor_is_all_the_arithmetic_at_the_measured_rate():
    work = [Work("teacher", 1e9, 100), Work("student", 1e9, 100, recipe_cost.TRAINING_FACTOR)]
    assert floor_seconds(work, 1e11) == pytest.approx(4.0)
    assert recipe_cost.ratio(12.0, 4.0) == 3.0
    with pytest.raises(ValueError, match="positive"):
        floor_seconds(work, 0)


def test_a_training_recipe_counts_teacher_and_trained_passes_per_step_and_image():
    qat = recipe_work("int8-qat", {"steps": 400, "lr": 2e-5}, FLOPS, "scrfd_500m_kps")
    totals = {w.what: w.total for w in qat}
    assert totals["teacher forward"] == 4e8 * 400 * 4
    assert totals["student forward+backward"] == 3 * 4e8 * 400 * 4
    assert totals["PTQ calibration"] == 1.6e9 * 102
    chained = recipe_work("pruned-20+int8-qat", {"steps": 400}, FLOPS, "scrfd_500m_kps")
    assert chained[1].flops == 3.5e8   # its teacher is its source, pruned-20
    keras = recipe_work("clustered-16", {"steps": 200}, FLOPS, "mobilenetv2")
    assert sum(w.total for w in keras) == 1.3e7 * 200 * 64 * 4
    # post-training quantization in another engine: one calibration pass of its source model
    assert [w.total for w in recipe_work("int8-ort", {}, FLOPS, "scrfd_500m_kps")] == [1.6e9 * 102]
    assert recipe_work("pruned-20+int8-nncf", {}, FLOPS, "scrfd_500m_kps")[0].flops == 1.4e9
    assert recipe_work("int8-tflite", {}, FLOPS, "mobilenetv2")[0].total == 1.3e7 * 500
    assert recipe_work("fp16-ov", {}, FLOPS, "scrfd_500m_kps") is None


def _manifest(cache: Path, key: str, model: str, compression: str, params: dict,
              seconds: float) -> Path:
    folder = cache / "recipes" / key[:2] / key / "0123456789abcdef"
    folder.mkdir(parents=True)
    inputs = {"model": {"name": model}, "compression": compression}
    if params:
        inputs["params"] = params
    manifest = folder / ".entry.json"
    manifest.write_text(json.dumps({"kind": "recipes", "inputs": inputs, "files": {},
                                    "build_seconds": seconds}))
    return manifest


RATES = {"cpu": "a test CPU", "dense": {"tensorflow": 1e11, "torch": 5e10},
         "models": {"mobilenetv2": 2.5e10, "resnet8": 5e10, "scrfd_500m_kps": 2e10}}


def test_the_page_lists_matrix_builds_with_floor_ratio_and_profile(tmp_path):
    from compbench.bench.suite import MATRIX

    row = next(r for r in MATRIX if (r.model, r.compression) == ("mobilenetv2", "clustered-16"))
    _manifest(tmp_path, "aa" * 32, "mobilenetv2", "clustered-16", dict(row.params), 66.0)
    _manifest(tmp_path, "bb" * 32, "mobilenetv2", "clustered-16", {**dict(row.params), "steps": 1},
              9.0)   # a unit test's one-step build: no matrix row, left out
    _manifest(tmp_path, "cc" * 32, "scrfd_500m_kps", "fp16-ov", {}, 11.0)
    later = _manifest(tmp_path, "dd" * 32, "resnet8", "fp32", {}, 80.0)
    cold_run_end = later.stat().st_mtime
    os.utime(later, (cold_run_end + 3600, cold_run_end + 3600))   # a later session's rebuild
    builds = recipe_cost.recorded_builds(tmp_path, built_before=cold_run_end + 1)
    assert [(b["compression"], b["seconds"]) for b in builds] == [("clustered-16", 66.0),
                                                                  ("fp16-ov", 11.0)]
    assert len(recipe_cost.recorded_builds(tmp_path)) == 3
    profile = {"variant": "mobilenetv2/clustered-16/keras", "params": {"steps": 20},
               "total_cpu": 22.0, "recipe_cpu": 20.0,
               "phases": {"training steps": 10.0, "data loading/decoding": 8.0,
                          "framework start-up (imports)": 2.0},
               "training": {"compiled TensorFlow step": 9.0, "other per-step Python": 1.0}}
    page = recipe_cost.render(builds, FLOPS, RATES, {"mobilenetv2/clustered-16": profile}, {},
                              "a test cache", "2026-01-01", "python scripts/recipe_cost.py render")
    steps = dict(row.params)["steps"]
    floor = 1.3e7 * steps * 64 * 4 / 1e11
    line = next(x for x in page.splitlines() if x.startswith("| mobilenetv2/clustered-16 "))
    assert f"| {floor:.1f} | {66.0 / floor:.1f}× |" in line
    # training scales to the row's steps; start-up is the sampled imports plus what ran before
    # the recipe; the rest is paid once
    training = 10.0 * steps / 20
    assert f"| {training + 8.0 + 4.0:.1f} ({(training + 12.0) / floor:.1f}×) |" in line
    # the reason: the phases the furthest above their own floor, the largest first
    training_floor = 1.3e7 * steps * 64 * 3 / 1e11
    # (at the model's own forward rate, a quarter of the dense one, the floor is 4× longer)
    assert (f"above target, measured: training steps {training:.0f} s (floor "
            f"{training_floor:.1f}; {4 * training_floor:.1f} at the model's own forward rate) "
            f"of which compiled TensorFlow step {0.9 * training:.0f} s, other per-step Python "
            f"{0.1 * training:.0f} s; data loading/decoding 8 s (no floor); framework start-up "
            "(imports) 4 s (no floor); the model's own forward runs at 25 GFLOP/s = 1/4.0 of "
            "the dense rate |") in line
    assert "| scrfd_500m_kps/fp16-ov | — | 11.0 | — | — | — | no floor: no training" in page
    section = page[page.index("### mobilenetv2/clustered-16"):]
    assert (f"| training steps | {training:.1f} | {100 * training / (training + 12):.0f} % | "
            f"{training_floor:.1f} | {training / training_floor:.1f}× |") in section
    assert "| compiled TensorFlow step | 9.0 | 90 % |" in section


def test_a_sampled_stack_is_charged_to_its_innermost_marked_phase():
    phase_of = recipe_cost.phase_of
    # the Keras teacher targets are computed inside the data set-up: they are teacher outputs
    assert phase_of(("clustered@clustered.py", "training_data@keras_finetune.py",
                     "distill_from@keras_finetune.py", "predict_on_batch@training_v1.py")
                    ) == "teacher outputs (computed once)"
    assert phase_of(("clustered@clustered.py", "training_data@keras_finetune.py",
                     "fixed_subset@cifar10.py")) == "data loading/decoding"
    # an import anywhere is start-up, even inside a training step
    assert phase_of(("pruned@pruned.py", "self_distill@self_distillation.py",
                     "_find_and_load@<frozen importlib._bootstrap>")
                    ) == "framework start-up (imports)"
    # a function marker qualified by its file: the CIFAR task's train split is data, only
    # distilled.train is training
    assert phase_of(("cluster@clustered.py", "train@cifar10.py")) == "data loading/decoding"
    assert phase_of(("distilled@distilled.py", "train@distilled.py", "forward@module.py")
                    ) == "training steps"
    assert phase_of(("distilled@distilled.py", "helper@distilled.py")) == "other (recipe code)"


def test_a_training_sample_is_split_into_the_parts_of_a_step():
    part = recipe_cost.training_part
    step = ("int8_qat@int8_qat.py", "self_distill@self_distillation.py",
            "train_steps@training.py")
    assert part((*step, "loss@self_distillation.py#teacher", "_wrapped_call_impl@module.py")
                ) == "teacher forward"
    assert part((*step, "loss@self_distillation.py", "_wrapped_call_impl@module.py",
                 "forward@fake_quantize.py")) == "fake quantization (in the forward)"
    assert part((*step, "loss@self_distillation.py", "_wrapped_call_impl@module.py")
                ) == "student forward"
    assert part((*step, "backward@_tensor.py", "_engine_run_backward@graph.py")) == "backward"
    assert part((*step, "loss@self_distillation.py", "batch@self_distillation.py")
                ) == "batch (crops, flips, pixels)"
    assert part(step) == "other per-step Python"
    fit = ("cluster@clustered.py", "finetune@keras_finetune.py", "fit@training.py")
    assert part((*fit, "_call_flat@polymorphic_function.py", "quick_execute@execute.py")
                ) == "compiled TensorFlow step"
    # building the step's graph happens once, inside the first call
    assert part((*fit, "_call_flat@polymorphic_function.py", "func_graph_from_py_func@func_graph.py",
                 "_create_c_op@ops.py")) == "TensorFlow graph tracing (once per function)"


LOOP = """import sys


class Model:
    def __init__(self, label):
        self.label = label

    def __call__(self):
        return self.label(sys._getframe(1))

    def predict_on_batch(self):
        return self.label(sys._getframe(1))


def step(label):
    teacher = Model(label)
    scrfd_teacher = student = teacher
    a = teacher()
    b = scrfd_teacher()
    c = teacher.predict_on_batch()
    d = student()
    return a, b, c, d
"""


def test_a_line_calling_the_teacher_tags_its_frame(tmp_path):
    """A frozen teacher's forward looks like the student's on the stack: the caller's source
    line tells them apart (``scrfd_teacher(`` builds one, it is no teacher call)."""
    source = tmp_path / "loop.py"
    source.write_text(LOOP)
    namespace: dict = {}
    exec(compile(LOOP, str(source), "exec"), namespace)   # the test's own fixture source
    labels = namespace["step"](recipe_cost.frame_label)
    assert labels == ("step@loop.py#teacher", "step@loop.py", "step@loop.py#teacher",
                      "step@loop.py")


def test_a_profile_file_is_read_back_with_its_phases_derived_from_the_raw_samples(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({
        "variant": "scrfd_500m_kps/pruned/torch", "params": {"steps": 500}, "total_cpu": 9.0,
        "recipe_cpu": 8.0, "samples": [
            [["pruned@pruned.py", "stack_inputs@self_distillation.py"], 3.0],
            [["pruned@pruned.py", "self_distill@self_distillation.py", "train_steps@training.py",
              "backward@_tensor.py", "_engine_run_backward@graph.py"], 5.0]],
        "ticks": 800, "side_samples": [
            [["run@threading.py", "__getitem__@keras_finetune.py", "inputs@keras_finetune.py"], 7],
            [["_bootstrap@threading.py", "__getitem__@keras_finetune.py",
              "inputs@keras_finetune.py"], 2]]}))
    profile = recipe_cost.load_profile(path)
    assert profile["phases"] == {"training steps": 5.0, "data loading/decoding": 3.0}
    assert profile["training"] == {"backward": 5.0}
    assert "samples" not in profile and "side_samples" not in profile
    # another thread's samples are counted by their innermost frames, whoever started it
    assert profile["side"] == {"inputs@keras_finetune.py < __getitem__@keras_finetune.py": 9}
