"""Where each recipe build's time goes, against the arithmetic it has to do (issue 22).

    python scripts/recipe_cost.py flops --cache COLD_CACHE --out WORK/flops.json
    python scripts/recipe_cost.py rate --flops WORK/flops.json --out WORK/rates.json
    python scripts/recipe_cost.py profile VARIANT_ID --out WORK/NAME.json [--source DIR] [--steps N]
    python scripts/recipe_cost.py render --cache COLD_CACHE --source TEXT --work WORK > docs/recipe-cost.md

``profile`` runs one recipe in a child interpreter started like a step process (one thread per
library, ``compbench.isolation.step_environment``) and samples its Python stack with the process
CPU time spent since the previous sample: the machine is shared, so wall-clock time would
measure the other jobs too. The raw samples are kept, so the phases (``PHASES``) can be
re-derived without profiling again. ``rate`` measures this machine's single-thread dense FLOP
rate of each framework, and each model's own forward rate, also in process CPU time.
``render`` writes the page: every recipe build recorded in a cold run's cache folder
(``build_seconds`` of its manifest), its compute floor (FLOPs per image × images processed ÷
the dense rate, ``recipe_work``) and the ratio, and for the profiled builds the CPU per phase.

The floor arithmetic, the phase classification and the page are plain functions of numbers and
strings, tested without timing anything (tests/test_recipe_cost.py).
"""

from __future__ import annotations

import argparse
import json
import linecache
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TRAINING_FACTOR = 3   # forward + backward ≈ 3 forwards (backward: input and weight gradients)


def cpu_seconds() -> float:
    """User + system CPU of this process (all its threads) since it started."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the floor ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    """One kind of arithmetic a recipe does: ``images`` passes of ``flops`` each, ``factor`` 1
    for inference (teacher, calibration), ``TRAINING_FACTOR`` for a trained pass; ``phase`` is
    the profile phase whose CPU it is part of, so each phase has a floor of its own."""
    what: str
    flops: float        # FLOPs (2 per multiply-accumulate) of one image's forward pass
    images: int
    factor: int = 1
    phase: str = "training steps"   # TRAINING (defined with the other phase names below)

    @property
    def total(self) -> float:
        return self.flops * self.images * self.factor


def floor_seconds(work: list[Work], flops_per_second: float) -> float:
    """The compute floor: all the arithmetic at the machine's measured dense rate."""
    if flops_per_second <= 0:
        raise ValueError(f"a FLOP rate must be positive, got {flops_per_second}")
    return sum(w.total for w in work) / flops_per_second


def ratio(measured: float, floor: float) -> float:
    return measured / floor if floor > 0 else float("inf")


# -- counting FLOPs -----------------------------------------------------------------------------

def torch_forward_flops(module, input_shape) -> float:
    """FLOPs of one forward pass of ``module`` at ``input_shape`` (batch 1): 2 per MAC of every
    convolution and linear layer, from the shapes their hooks see (what dominates these models;
    activations, BatchNorm and pooling are a few per cent and left out)."""
    import torch

    total = [0.0]

    def conv_hook(layer, inputs, output):
        kernel = layer.weight.shape[2] * layer.weight.shape[3]
        macs = output.numel() * (layer.in_channels // layer.groups) * kernel
        total[0] += 2.0 * macs

    def linear_hook(layer, inputs, output):
        total[0] += 2.0 * output.numel() * layer.in_features

    hooks = []
    for layer in module.modules():
        if isinstance(layer, torch.nn.Conv2d):
            hooks.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, torch.nn.Linear):
            hooks.append(layer.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(tuple(input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
    return total[0] / input_shape[0]


def keras_forward_flops(model) -> float:
    """FLOPs of one image's forward pass of a tf_keras model, from its layers' output shapes
    (2 per MAC of Conv2D, DepthwiseConv2D and Dense)."""
    total = 0.0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            continue
        out = layer.output_shape
        positions = 1
        for size in out[1:-1]:
            positions *= size
        if kind == "Dense":
            total += 2.0 * out[-1] * layer.input_shape[-1]
        elif kind == "Conv2D":
            kh, kw = layer.kernel_size
            total += 2.0 * positions * out[-1] * kh * kw * layer.input_shape[-1] // layer.groups
        else:
            kh, kw = layer.kernel_size
            total += 2.0 * positions * out[-1] * kh * kw
    return total


# -- measuring the rate -------------------------------------------------------------------------

def single_thread() -> None:
    """One thread per library, as in a step process (``compbench.isolation``)."""
    os.environ.update({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                       "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                       "TF_USE_LEGACY_KERAS": "1"})


def measure_rates(flops: dict[str, float], assets: str | None,
                  seconds: float = 3.0) -> dict:
    """This machine's single-thread FLOP/s in process CPU time: ``dense``, one large 3x3
    convolution per framework (torch: batch 4, 64 channels at 80x80, the detector's
    mid-network shape; TensorFlow: batch 64, 32 channels at 32x32), the floor's rate; and
    ``models``, each trained model's own inference forward pass at its training batch, which
    says how far its layer shapes (depthwise, thin channels) keep it from the dense rate."""
    single_thread()
    import torch

    from compbench.assets import Assets
    from compbench.bench.suite import MODELS
    from compbench.specs import resolve

    torch.set_num_threads(1)
    store = Assets(assets)
    dense, models = {}, {}
    x = torch.randn(4, 64, 80, 80)
    w = torch.randn(64, 64, 3, 3)
    dense["torch"] = _rate(lambda: torch.nn.functional.conv2d(x, w, padding=1),
                           2.0 * 4 * 80 * 80 * 64 * 64 * 9, seconds)
    scrfd = resolve(MODELS["scrfd_500m_kps"].source)(store).eval()
    crops = torch.randn(SCRFD_BATCH, 3, SCRFD_CROP, SCRFD_CROP)
    with torch.no_grad():
        models["scrfd_500m_kps"] = _rate(lambda: scrfd(crops),
                                         SCRFD_BATCH * flops[f"scrfd_500m_kps@{SCRFD_CROP}"],
                                         seconds)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    xt = tf.random.normal((64, 32, 32, 32))
    wt = tf.random.normal((3, 3, 32, 32))
    conv = tf.function(lambda: tf.nn.conv2d(xt, wt, 1, "SAME"))
    dense["tensorflow"] = _rate(lambda: conv().numpy(), 2.0 * 64 * 32 * 32 * 32 * 32 * 9,
                                seconds)
    images = tf.random.uniform((KERAS_BATCH, 32, 32, 3))
    for name in ("resnet8", "mobilenetv2"):
        model = resolve(MODELS[name].source)(store)
        models[name] = _rate(lambda m=model: m.predict_on_batch(images),
                             KERAS_BATCH * flops[name], seconds)
    return {"cpu": cpu_name(), "dense": dense, "models": models}


def _rate(run, flops: float, seconds: float) -> float:
    run()
    count, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        run()
        count += 1
    return flops * count / (time.process_time() - started)


# -- what each recipe computes ------------------------------------------------------------------

SCRFD_CALIBRATION_IMAGES = 102   # widerface/calib (the task's calibration_size)
SCRFD_BATCH, SCRFD_CROP = 4, 320
KERAS_BATCH = 64
CIFAR_CALIBRATION_IMAGES = 500   # compbench.tasks.cifar10.CALIBRATION_IMAGES
PRUNING_STATS_IMAGES = 32        # compbench.compression.pruned.STATS_IMAGES
KD_CROPS_PER_IMAGE, KD_HOLDOUT_IMAGES = 4, 6   # compbench.compression.distilled.KDSettings
# the profile phases the arithmetic falls in (``PHASES``)
TRAINING, CALIBRATION = "training steps", "calibration (PTQ ranges)"
PRUNING, TEACHER = "pruning (statistics, masks)", "teacher outputs (computed once)"
EVALUATION = "evaluation inside the recipe"


def recipe_work(compression: str, params: dict, flops: dict[str, float],
                model: str) -> list[Work] | None:
    """The arithmetic a recipe build must do, from its row's parameters and the counted FLOPs
    (``flops[name@side]``: one image's forward pass); None for recipes with no training or
    calibration loop worth a floor (export, conversion, weight rewriting)."""
    steps = params.get("steps")
    if model == "scrfd_500m_kps":
        fp32_640, fp32_320 = flops["scrfd_500m_kps@640"], flops["scrfd_500m_kps@320"]
        trained = steps and steps * SCRFD_BATCH
        if compression == "int8-ptq":
            return [Work("calibration (fp32 + observers)", fp32_640, SCRFD_CALIBRATION_IMAGES,
                         phase=CALIBRATION)]
        base, _, last = compression.rpartition("+")
        if last in ("int8-ort", "int8-nncf"):   # onnxruntime / OpenVINO calibration passes
            source = f"{base or 'scrfd_500m_kps'}@640"
            return [Work("calibration forward", flops[source], SCRFD_CALIBRATION_IMAGES,
                         phase=CALIBRATION)]
        if compression.endswith("int8-qat"):
            base = "pruned-20" if compression.startswith("pruned-20") else "scrfd_500m_kps"
            return [Work("PTQ calibration", flops[f"{base}@640"], SCRFD_CALIBRATION_IMAGES,
                         phase=CALIBRATION),
                    Work("teacher forward", flops[f"{base}@320"], trained),
                    Work("student forward+backward", flops[f"{base}@320"], trained,
                         TRAINING_FACTOR)]
        if compression in ("pruned", "pruned-20"):
            return [Work("channel statistics", fp32_640, PRUNING_STATS_IMAGES, phase=PRUNING),
                    Work("teacher forward", fp32_320, trained),
                    Work("student forward+backward", flops[f"{compression}@320"], trained,
                         TRAINING_FACTOR)]
        if compression == "sparse":
            return [Work("teacher forward", fp32_320, trained),
                    Work("student forward+backward (dense)", fp32_320, trained,
                         TRAINING_FACTOR)]
        if compression == "distilled":
            crops = SCRFD_CALIBRATION_IMAGES * KD_CROPS_PER_IMAGE
            held_out = KD_HOLDOUT_IMAGES * KD_CROPS_PER_IMAGE
            return [Work("2.5G teacher on every crop, once", flops["teacher2.5g@320"], crops,
                         phase=TEACHER),
                    Work("student neck on every crop, once", fp32_320, crops, phase=TEACHER),
                    Work("student forward+backward (joint)", fp32_320, trained,
                         TRAINING_FACTOR),
                    Work("held-out response loss, before and after", fp32_320, 2 * held_out,
                         phase=EVALUATION)]
        return None
    if model in ("resnet8", "mobilenetv2") and compression == "int8-tflite":
        return [Work("calibration forward (representative dataset)", flops[model],
                     CIFAR_CALIBRATION_IMAGES, phase=CALIBRATION)]
    if model in ("resnet8", "mobilenetv2") and steps:
        images = steps * KERAS_BATCH
        return [Work("teacher targets", flops[model], images, phase=TEACHER),
                Work("forward+backward", flops[model], images, TRAINING_FACTOR)]
    return None


# -- profiling one recipe -----------------------------------------------------------------------

# (phase, the frames that mark it on the Python stack: ``function``, ``function@file.py``,
# ``@file.py`` or a ``#tag`` of ``frame_label``); the innermost marked frame decides, so the
# teacher targets computed inside the data set-up of the Keras fine-tune count as teacher
# targets, and the calibration images read inside the distillation's precompute as data
PHASES = [
    ("data loading/decoding", ("stack_inputs", "calibration_inputs", "training_data",
                               "load_cifar10", "fixed_subset", "read_image",
                               "train@cifar10.py")),
    (TEACHER, ("distill_from", "precompute")),
    ("model construction", ("source_model", "clone_model", "deepcopy", "prepare_qat_fx",
                            "cluster_weights", "prune_low_magnitude", "scrfd_teacher",
                            "ReviewFusion")),
    (CALIBRATION, ("prepare_calibrated", "quantize_static", "quantize@quantize_model.py",
                   "_quantize@lite.py")),
    (PRUNING, ("consumer_input_stats", "prune_scrfd", "apply_global_sparsity")),
    (EVALUATION, ("response_terms", "evaluate_distance")),
    (TRAINING, ("self_distill", "train_steps", "fit", "finetune", "train@distilled.py")),
    ("conversion/strip/save", ("convert_fx", "strip_clustering", "strip_pruning", "save_keras",
                               "save_torch", "save_quantized", "make_permanent", "fp32_onnx",
                               "quant_pre_process", "convert_model", "save_model",
                               "convert@lite.py")),
]
IMPORTS = "framework start-up (imports)"
OTHER = "other (recipe code)"
# inside the training steps (torch recipes; a Keras step is one compiled TensorFlow call)
TRAINING_PARTS = [
    ("teacher forward", ("#teacher",)),
    ("batch (crops, flips, pixels)", ("batch@self_distillation.py", "batch@distilled.py",
                                      "__getitem__@keras_finetune.py")),
    ("backward", ("_engine_run_backward",)),
    ("optimizer (Adam, clipping, zero_grad)", ("clip_grad_norm_", "zero_grad", "step@adam.py",
                                               "adam@adam.py", "_single_tensor_adam@adam.py")),
    ("loss", ("scrfd_distillation_loss", "hcl_loss", "response_loss")),
    ("fake quantization (in the forward)", ("@fake_quantize.py",)),
    ("TensorFlow graph tracing (once per function)", ("func_graph_from_py_func",)),
    ("compiled TensorFlow step", ("_call_flat", "quick_execute")),
    ("student forward", ("_call_impl", "_wrapped_call_impl")),
]
TEACHER_CALL = re.compile(r"\bteacher(\(|\.predict)")


def frame_label(frame) -> str:
    """``function@file.py``, tagged ``#teacher`` where the line being run calls the teacher
    (a frozen model's forward looks like the student's from the stack alone)."""
    code = frame.f_code
    label = f"{code.co_name}@{Path(code.co_filename).name}"
    line = linecache.getline(code.co_filename, frame.f_lineno) if frame.f_lineno else ""
    if TEACHER_CALL.search(line):
        label += "#teacher"
    return label


class StackSampler(threading.Thread):
    """Every ``interval`` s, charge the process CPU used since the last sample to the main
    thread's current Python stack (CPU-weighted, so a shared machine's waits do not count, and
    the CPU of library threads goes to the Python call that waits for them). Project code that
    a library runs on its own thread (TensorFlow's data pipeline calling a Keras ``Sequence``)
    is counted apart, in samples, since its CPU cannot be told from the main thread's."""

    def __init__(self, interval: float = 0.01):
        super().__init__(daemon=True)
        self.interval = interval
        self.main = threading.main_thread().ident
        self.samples: Counter = Counter()
        self.side: Counter = Counter()
        self.ticks = 0
        self.stop = threading.Event()

    def run(self) -> None:
        last = cpu_seconds()
        while not self.stop.wait(self.interval):
            now = cpu_seconds()
            self.ticks += 1
            try:
                frames = sys._current_frames()
                stack = self.stack_of(frames.get(self.main))
                for ident, frame in frames.items():
                    if ident not in (self.main, self.ident) and _in_project(frame):
                        self.side[self.stack_of(frame)] += 1
            except Exception as exc:  # noqa: BLE001 - an unsampled stack must not stop sampling
                stack = (f"<sampler error: {type(exc).__name__}: {exc}>",)
            self.samples[stack] += now - last
            last = now

    @staticmethod
    def stack_of(frame) -> tuple[str, ...]:
        labels = []
        while frame is not None:
            labels.append(frame_label(frame))
            frame = frame.f_back
        return tuple(reversed(labels))


def _in_project(frame) -> bool:
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(str(REPO)) and "/.venv/" not in filename:
            return True
        frame = frame.f_back
    return False


def _marked(label: str, markers: tuple[str, ...]) -> bool:
    function, _, rest = label.partition("@")
    file, _, tag = rest.partition("#")
    for marker in markers:
        if marker.startswith("#"):
            if tag == marker[1:]:
                return True
        elif marker.startswith("@"):
            if file == marker[1:]:
                return True
        elif "@" in marker:
            if f"{function}@{file}" == marker:
                return True
        elif function == marker:
            return True
    return False


def _innermost(stack: tuple[str, ...], table, default: str) -> str:
    for label in reversed(stack):
        for name, markers in table:
            if _marked(label, markers):
                return name
    return default


def phase_of(stack: tuple[str, ...]) -> str:
    """The phase a sampled stack (outermost frame first) belongs to: imports wherever they
    happen, else the innermost frame that marks a phase."""
    if any(label.startswith("_find_and_load@") for label in stack):
        return IMPORTS
    return _innermost(stack, PHASES, OTHER)


def training_part(stack: tuple[str, ...]) -> str:
    """Where inside a training step a sampled stack is: the first part of ``TRAINING_PARTS``
    any of its frames marks (a teacher forward is all teacher, fake quantization inside the
    student's forward is fake quantization)."""
    for name, markers in TRAINING_PARTS:
        if any(_marked(label, markers) for label in stack):
            return name
    return "other per-step Python"


def summarise(samples: Counter) -> dict:
    phases: Counter = Counter()
    parts: Counter = Counter()
    leaves: dict[str, Counter] = {}
    for stack, cpu in samples.items():
        phase = phase_of(stack)
        phases[phase] += cpu
        if phase == "training steps":
            parts[training_part(stack)] += cpu
        leaves.setdefault(phase, Counter())[" < ".join(reversed(stack[-3:]))] += cpu
    return {"phases": {k: round(v, 2) for k, v in phases.most_common()},
            "training": {k: round(v, 2) for k, v in parts.most_common()},
            "leaves": {phase: {k: round(v, 2) for k, v in counter.most_common(12)}
                       for phase, counter in leaves.items()}}


def profile_child(request: dict) -> None:
    """Run the recipe as the compress step does (``compbench.runner.steps.compress``) under the sampler;
    the raw samples go into the result, so the phases can be re-derived without profiling
    again (``summarise``)."""
    started = cpu_seconds()
    from compbench.assets import Assets
    from compbench.compression.base import RecipeContext
    from compbench.formats.artifacts import Artifact
    from compbench.runner.matrix import get_variant
    from compbench.specs import resolve
    from compbench.tasks import create_task

    variant = get_variant(request["variant"])
    params = dict(variant.params)
    params.update(request.get("params") or {})
    recipe = resolve(variant.recipe)
    assets = Assets(request.get("assets"))
    task = create_task(variant.model, assets)
    out_dir = Path(request["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    source = request.get("source")
    context = RecipeContext(variant.model, variant.compression, out_dir, task, assets, 0,
                            source and Artifact(source["format"], Path(source["path"])))
    start_up = cpu_seconds() - started
    sampler = StackSampler()
    sampler.start()
    recipe_started = cpu_seconds()
    recipe(context, **params)
    recipe_cpu = cpu_seconds() - recipe_started
    sampler.stop.set()
    sampler.join()
    result = {"variant": variant.id, "params": params, "cpu": cpu_name(),
              "start_up_cpu": round(start_up, 2), "recipe_cpu": round(recipe_cpu, 2),
              "total_cpu": round(cpu_seconds(), 2),
              "samples": [[list(stack), round(cpu, 4)] for stack, cpu in sampler.samples.items()],
              "ticks": sampler.ticks,
              "side_samples": [[list(stack), count] for stack, count in sampler.side.items()]}
    Path(request["result"]).write_text(json.dumps(result), encoding="utf-8")


def profile(variant_id: str, out: Path, source: Path | None, steps: int | None) -> dict:
    """Profile one recipe build in a child started like a step process; writes ``out``."""
    from compbench.formats.artifacts import FILENAMES
    from compbench.isolation import step_environment

    request = {"variant": variant_id, "out_dir": str(out.with_suffix(".artifact")),
               "assets": os.environ.get("COMPBENCH_ASSETS"), "result": str(out)}
    if steps is not None:
        request["params"] = {"steps": steps}
    if source is not None:
        fmt = "torch" if (source / FILENAMES["torch"]).exists() else "keras"
        request["source"] = {"format": fmt, "path": str(source / FILENAMES[fmt])}
    uses_tf = any(k in variant_id for k in ("resnet8", "mobilenetv2"))
    completed = subprocess.run([sys.executable, __file__, "profile-child", json.dumps(request)],
                               env=step_environment(uses_tf), cwd=REPO, capture_output=True,
                               text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"profiling {variant_id} failed:\n{completed.stderr[-3000:]}")
    return load_profile(out)


def load_profile(path: Path) -> dict:
    """A profile file with its phases derived from its raw samples."""
    data = json.loads(path.read_text(encoding="utf-8"))
    samples = Counter({tuple(stack): cpu for stack, cpu in data.pop("samples")})
    side: Counter = Counter()
    for stack, count in data.pop("side_samples", []):
        side[" < ".join(reversed(stack[-2:]))] += count
    return {**data, **summarise(samples), "side": dict(side.most_common(3))}


def cpu_name() -> str:
    """This machine's CPU as /proc/cpuinfo names it (model name, family, model)."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    return (f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family')}"
            f" model {fields.get('model')})")


def count_flops(cache: Path, assets: str | None) -> dict[str, float]:
    """``name@side`` → FLOPs of one image's forward pass: the models as the matrix loads them,
    the 2.5G teacher from its ONNX graph, and the channel-pruned students as ``cache`` holds
    their builds (their shapes come from the pruning ratio, not from training)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import torch

    from compbench.assets import Assets
    from compbench.bench.suite import MODELS
    from compbench.specs import resolve

    torch.set_num_threads(1)
    store = Assets(assets)
    scrfd = resolve(MODELS["scrfd_500m_kps"].source)(store)
    flops = {f"scrfd_500m_kps@{side}": torch_forward_flops(scrfd, (1, 3, side, side))
             for side in (320, 640)}
    for manifest in sorted(cache.glob("recipes/*/*/*/.entry.json")):
        inputs = json.loads(manifest.read_text(encoding="utf-8"))["inputs"]
        if inputs["compression"] in ("pruned", "pruned-20"):
            student = torch.load(manifest.parent / "model.pt", weights_only=False)
            for side in (320, 640):
                flops[f"{inputs['compression']}@{side}"] = torch_forward_flops(
                    student, (1, 3, side, side))
    for side in (320, 640):
        flops[f"teacher2.5g@{side}"] = onnx_conv_flops(
            store.file("scrfd/scrfd_2.5g_kps.onnx"), (1, 3, side, side))
    for name in ("resnet8", "mobilenetv2"):
        flops[name] = keras_forward_flops(resolve(MODELS[name].source)(store))
    return flops


def onnx_conv_flops(path: Path, input_shape) -> float:
    """FLOPs of the Conv nodes of an ONNX graph at ``input_shape`` (shape inference)."""
    import onnx
    from onnx import shape_inference

    graph_model = onnx.load(str(path))
    for dim, value in zip(graph_model.graph.input[0].type.tensor_type.shape.dim, input_shape,
                          strict=True):
        dim.ClearField("dim_param")
        dim.dim_value = value
    graph = shape_inference.infer_shapes(graph_model).graph
    shapes = {info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
              for info in [*graph.value_info, *graph.output]}
    kernels = {init.name: list(init.dims) for init in graph.initializer}
    total = 0.0
    for node in graph.node:
        if node.op_type == "Conv":
            weight, out = kernels[node.input[1]], shapes[node.output[0]]
            total += 2.0 * out[1] * out[2] * out[3] * weight[1] * weight[2] * weight[3]
    return total / input_shape[0]


# -- the page ----------------------------------------------------------------------------------

TARGET_RATIO = 3.0


def recorded_builds(cache: Path, built_before: float | None = None) -> list[dict]:
    """Every recipe build of a matrix row recorded in ``cache`` (builds with other parameters,
    e.g. the unit tests' one-step builds, are left out; with ``built_before``, a POSIX time,
    so are entries written later, e.g. rebuilds by later sessions sharing a cold run's folder):
    model, compression, params, recipe function, hardware class and seconds, the longest
    first."""
    from compbench.bench.suite import MATRIX
    from compbench.runner.durations import read_recorded

    rows = {(row.model, row.compression): row for row in MATRIX}
    builds = []
    for recorded in read_recorded(cache):
        if recorded.kind != "recipes" or (built_before is not None
                                          and recorded.mtime >= built_before):
            continue
        inputs = recorded.inputs
        model = inputs["model"]["name"]
        params = inputs.get("params", {})
        row = rows.get((model, inputs["compression"]))
        if row is None or dict(row.params) != params:
            continue
        builds.append({"model": model, "compression": inputs["compression"], "params": params,
                       "recipe": row.recipe, "hardware_class": inputs.get("hardware_class"),
                       "seconds": recorded.seconds})
    return sorted(builds, key=lambda b: -b["seconds"])


def extrapolated(profile: dict, steps: int | None) -> dict[str, float]:
    """A profile's phases in CPU seconds, summing to the child's whole CPU time: what ran
    before the recipe (interpreter, compbench, the task) counts as start-up, and a
    reduced-step profile's training phase is scaled to the row's ``steps`` (every other phase
    is paid once)."""
    phases = dict(profile["phases"])
    before = profile["total_cpu"] - profile["recipe_cpu"]
    phases[IMPORTS] = phases.get(IMPORTS, 0.0) + before
    profiled_steps = profile["params"].get("steps")
    if steps and profiled_steps and TRAINING in phases:
        phases[TRAINING] *= steps / profiled_steps
    return phases


def shares(phases: dict[str, float]) -> str:
    total = sum(phases.values()) or 1.0
    ordered = sorted(phases.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {100 * cpu / total:.0f} %" for name, cpu in ordered
                     if cpu / total >= 0.03)


def phase_floors(work: list[Work] | None, rate: float) -> dict[str, float]:
    floors: dict[str, float] = {}
    for item in work or []:
        floors[item.phase] = floors.get(item.phase, 0.0) + item.total / rate
    return floors


def framework_of(model: str) -> str:
    return "tensorflow" if model in ("resnet8", "mobilenetv2") else "torch"


def measured_reason(phases: dict[str, float], floors: dict[str, float], model_rate: float,
                    dense_rate: float, training: dict[str, float] | None = None,
                    top: int = 3) -> str:
    """One line from a profile: the phases that exceed their floor the most (the training
    steps with their two largest parts), and how far the model's own forward pass is from the
    dense rate."""
    excess = sorted(((cpu - floors.get(name, 0.0), name) for name, cpu in phases.items()),
                    reverse=True)[:top]
    parts = []
    for _, name in excess:
        floor = floors.get(name, 0.0)
        text = f"{name} {phases[name]:.0f} s " + (
            f"(floor {floor:.1f}; {floor * dense_rate / model_rate:.1f} at the model's own "
            "forward rate)" if floor else "(no floor)")
        if name == TRAINING and training:
            scale = phases[name] / (sum(training.values()) or 1.0)
            largest = sorted(training.items(), key=lambda item: -item[1])[:2]
            text += " of which " + ", ".join(f"{part} {cpu * scale:.0f} s"
                                             for part, cpu in largest)
        parts.append(text)
    return ("; ".join(parts) + f"; the model's own forward runs at "
            f"{model_rate / 1e9:.0f} GFLOP/s = 1/{dense_rate / model_rate:.1f} of the dense rate")


def render(builds: list[dict], flops: dict[str, float], rates: dict,
           profiles: dict[str, dict], notes: dict[str, str], source: str,
           date: str, command: str) -> str:
    dense, models = rates["dense"], rates["models"]
    classes = sorted({b["hardware_class"] for b in builds if b.get("hardware_class")})
    lines = [
        "# Recipe builds against their compute floor",
        "",
        f"Generated by `scripts/recipe_cost.py render` on {date} (do not edit by hand; how to "
        "regenerate it is at the end). Issue 22 asks for every recipe within "
        f"{TARGET_RATIO:g}× of its compute floor, or the reason why not.",
        "",
        f"- **Recorded** — `build_seconds` of every matrix row's recipe build in {source}; "
        f"hardware class {', '.join(classes) or 'unknown'}. A cache entry times its step "
        "process from start to end in wall-clock seconds (interpreter start, imports, the recipe, "
        "recording its dependencies), one thread per library; the cold run built two steps at a "
        "time on 2 cores shared with other work, so a recorded time is close to, but not "
        "exactly, that step's CPU seconds.",
        f"- **Profiled** — process CPU seconds (user + system, all threads) of the recipe run in "
        "a child interpreter started like a step process (one thread per library, "
        "`compbench.isolation.step_environment`), its Python stack sampled every 10 ms and each "
        f"sample charged the CPU used since the previous one, on {rates['cpu']}. CPU time, not "
        "wall time: the machine is shared by several engineers and jobs, so wall time would "
        "measure them too (CPU time still shares caches and memory bandwidth with them). The "
        "child does not record dependencies as a step does.",
        "- **Floor** — the arithmetic a build must do (FLOPs of one image's forward pass, 2 per "
        "multiply-accumulate of its convolution and dense layers, × the images it processes; "
        f"forward + backward counted as {TRAINING_FACTOR} forwards) at this machine's "
        "single-thread dense rate, measured in process CPU time on one large 3×3 convolution: "
        + ", ".join(f"{name} {rate / 1e9:.0f} GFLOP/s" for name, rate in sorted(dense.items()))
        + " (torch: batch 4, 64 channels at 80×80; TensorFlow: batch 64, 32 channels at 32×32). "
        "Start-up, data and saving have no floor: all their time is above it.",
        "- **Model rate** — each model's own inference forward pass at its training batch, same "
        "measure: "
        + ", ".join(f"{name} {rate / 1e9:.0f} GFLOP/s" for name, rate in sorted(models.items()))
        + " (SCRFD: 4 crops of 320×320; Keras models: 64 images, `predict_on_batch`). Measured "
        "on the bare fp32 model, so its gap to the dense rate is the model's layers' (depthwise "
        "and thin convolutions, small maps), not a recipe's.",
        "",
        "## Every recipe build",
        "",
        "| recipe | steps | recorded s | floor s | ratio | profiled CPU s (ratio) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    reasons: dict[str, str] = {}
    ratios: list[float] = []
    against_recorded: list[float] = []   # profiled CPU s / recorded s, per profiled build
    for build in builds:
        name = f"{build['model']}/{build['compression']}"
        framework = framework_of(build["model"])
        work = recipe_work(build["compression"], build["params"], flops, build["model"])
        profile = profiles.get(name)
        if profile is not None and work is not None:
            reasons[name] = measured_reason(
                extrapolated(profile, build["params"].get("steps")),
                phase_floors(work, dense[framework]), models[build["model"]], dense[framework],
                profile.get("training"))
    for build in builds:
        name = f"{build['model']}/{build['compression']}"
        steps = build["params"].get("steps")
        framework = framework_of(build["model"])
        work = recipe_work(build["compression"], build["params"], flops, build["model"])
        profile = profiles.get(name)
        profiled = "—"
        if work is None:
            floor_text, ratio_text, within = "—", "—", None
        else:
            floor = floor_seconds(work, dense[framework])
            value = ratio(build["seconds"], floor)
            floor_text, ratio_text = f"{floor:.1f}", f"{value:.1f}×"
            within = round(value, 1) <= TARGET_RATIO   # as the page shows it
            ratios.append(round(value, 1))
            if profile is not None:
                cpu = sum(extrapolated(profile, steps).values())
                profiled = f"{cpu:.1f} ({ratio(cpu, floor):.1f}×)"
                against_recorded.append(cpu / build["seconds"])
        if name in notes:
            verdict = notes[name]
        elif within is None and build["model"] in ("resnet20", "vit"):
            verdict = "no floor: this script counts no FLOPs of this model"
        elif within is None:
            verdict = "no floor: no training or calibration (export, conversion)"
        elif within:
            verdict = "within target"
        elif name in reasons:
            verdict = f"above target, measured: {reasons[name]}"
        else:
            sibling = next((other for other in reasons
                            if _recipe_of(builds, other) == build["recipe"]), None)
            verdict = (f"above target; not profiled, same recipe ({build['recipe']}) as "
                       f"{sibling}, whose profile is below" if sibling else
                       "above target; not profiled")
        lines.append(f"| {name} | {steps or '—'} | {build['seconds']:.1f} | {floor_text} | "
                     f"{ratio_text} | {profiled} | {verdict} |")
    within_target = sum(value <= TARGET_RATIO for value in ratios)
    lines += ["", f"{within_target} of the {len(ratios)} builds with a floor are within "
                  f"{TARGET_RATIO:g}× of it; the {len(builds)} builds recorded "
                  f"{sum(b['seconds'] for b in builds):.0f} s together."]
    if against_recorded:
        lines += ["", f"A profile's CPU seconds came to {min(against_recorded):.2f}–"
                      f"{max(against_recorded):.2f}× the recorded seconds of the same build: "
                      "the cold run's two builds at a time add waits to the recorded wall time, "
                      "while a busy shared machine makes each CPU second do less (shared caches "
                      "and cores); compare the two columns only to within that range."]
    lines += ["", "## Where the time goes (profiled builds)", ""]
    for build in builds:
        name = f"{build['model']}/{build['compression']}"
        if name in profiles:
            lines += profile_section(name, build, profiles[name], flops, rates)
    lines += [
        "## How to regenerate", "",
        "Profile one build at a time (each takes minutes of CPU; a private cache keeps the "
        "CIFAR pixels it decodes away from everyone else's):", "",
        "```",
        "W=<work folder>; export COMPBENCH_CACHE=/work/cache-<you> "
        "COMPBENCH_ASSETS=/work/shared/assets",
        "python scripts/recipe_cost.py flops --cache <cold-run cache> --out $W/flops.json",
        "python scripts/recipe_cost.py rate --flops $W/flops.json --out $W/rates.json",
        "python scripts/recipe_cost.py profile scrfd_500m_kps/int8-qat/torch --out "
        "$W/int8-qat.json   # one at a time",
        "```", "",
        "This page:", "",
        "```",
        command,
        "```", "",
    ]
    return "\n".join(lines) + "\n"


def _recipe_of(builds: list[dict], name: str) -> str | None:
    return next((b["recipe"] for b in builds if f"{b['model']}/{b['compression']}" == name),
                None)


def profile_section(name: str, build: dict, profile: dict, flops: dict[str, float],
                    rates: dict) -> list[str]:
    """One profiled build: CPU per phase against that phase's floor, and inside the training
    steps, CPU per part of a step."""
    steps = build["params"].get("steps")
    framework = framework_of(build["model"])
    dense = rates["dense"][framework]
    work = recipe_work(build["compression"], build["params"], flops, build["model"])
    floors = phase_floors(work, dense)
    phases = extrapolated(profile, steps)
    total = sum(phases.values()) or 1.0
    lines = [f"### {name}", "",
             f"Profiled {profile['variant']} "
             + (f"({', '.join(f'{k} {v}' for k, v in profile['params'].items())}) "
                if profile["params"] else "")
             + f"on {profile.get('cpu', 'a CPU not recorded')}: {total:.1f} CPU s "
             f"(recorded build: {build['seconds']:.1f} s; the sampler saw "
             f"{sum(profile['phases'].values()):.1f} of the recipe's {profile['recipe_cpu']:.1f} "
             "CPU s).", "",
             "| phase | CPU s | share | floor s | ratio |", "|---|---|---|---|---|"]
    for phase, cpu in sorted(phases.items(), key=lambda item: -item[1]):
        floor = floors.get(phase)
        lines.append(f"| {phase} | {cpu:.1f} | {100 * cpu / total:.0f} % | "
                     + (f"{floor:.1f} | {ratio(cpu, floor):.1f}× |" if floor else "— | — |"))
    parts = profile.get("training") or {}
    training_flops = sum(w.total for w in work or [] if w.phase == TRAINING)
    if parts and training_flops:
        spent = sum(parts.values()) or 1.0
        lines += ["", f"Inside the training steps ({spent:.1f} CPU s profiled; their "
                      f"arithmetic ran at {training_flops / phases[TRAINING] / 1e9:.1f} GFLOP/s "
                      f"against the dense {dense / 1e9:.0f} and the model's own forward "
                      f"{rates['models'][build['model']] / 1e9:.0f}):", "",
                  "| part of a step | CPU s | share |", "|---|---|---|"]
        for part, cpu in sorted(parts.items(), key=lambda item: -item[1]):
            lines.append(f"| {part} | {cpu:.1f} | {100 * cpu / spent:.0f} % |")
    side = profile.get("side") or {}
    if side and profile.get("ticks"):
        seen = sum(side.values())
        lines += ["", f"Project code ran on a library's own thread in {seen} of the "
                      f"{profile['ticks']} samples ({100 * seen / profile['ticks']:.0f} %; its CPU "
                      "is counted in the main thread's phase above): "
                      + ", ".join(f"`{stack}` {count}" for stack, count in side.items())]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("profile")
    p.add_argument("variant")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--source", type=Path)
    p.add_argument("--steps", type=int)
    c = sub.add_parser("profile-child")
    c.add_argument("request")
    r = sub.add_parser("rate")
    r.add_argument("--flops", type=Path, required=True, help="the flops subcommand's output")
    r.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("flops")
    f.add_argument("--cache", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    g = sub.add_parser("render")
    g.add_argument("--cache", type=Path, required=True, help="cache folder of a cold run")
    g.add_argument("--source", required=True, help="which run and CPU the cache records")
    g.add_argument("--built-before", type=datetime.fromisoformat,
                   help="only entries written before this time (ISO, e.g. the cold run's end)")
    g.add_argument("--work", type=Path, required=True,
                   help="folder of rates.json, flops.json, notes.json and <name>.json profiles")
    args = parser.parse_args(argv)
    if args.command == "profile":
        result = profile(args.variant, args.out, args.source, args.steps)
        print(json.dumps({k: result[k] for k in ("variant", "recipe_cpu", "phases", "training")},
                         indent=1))
    elif args.command == "profile-child":
        profile_child(json.loads(args.request))
    elif args.command == "rate":
        rates = measure_rates(json.loads(args.flops.read_text(encoding="utf-8")),
                              os.environ.get("COMPBENCH_ASSETS"))
        args.out.write_text(json.dumps(rates, indent=1))
        print(json.dumps(rates))
    elif args.command == "flops":
        flops = count_flops(args.cache, os.environ.get("COMPBENCH_ASSETS"))
        args.out.write_text(json.dumps(flops, indent=1))
    elif args.command == "render":
        profiles = {}
        for path in sorted(args.work.glob("*.json")):
            if path.name not in ("flops.json", "rates.json", "notes.json"):
                data = load_profile(path)
                profiles[data["variant"].rpartition("/")[0]] = data
        notes_file = args.work / "notes.json"
        notes = json.loads(notes_file.read_text(encoding="utf-8")) if notes_file.exists() else {}
        before = args.built_before and args.built_before.replace(
            tzinfo=args.built_before.tzinfo or UTC).timestamp()
        sys.stdout.write(render(recorded_builds(args.cache, before),
                                json.loads((args.work / "flops.json").read_text()),
                                json.loads((args.work / "rates.json").read_text()),
                                profiles, notes, args.source,
                                datetime.now(UTC).date().isoformat(),
                                "python scripts/recipe_cost.py "
                                + " ".join(shlex.quote(a) for a in sys.argv[1:])
                                + " > docs/recipe-cost.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
