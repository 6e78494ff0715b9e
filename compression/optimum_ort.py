"""Hugging Face Optimum on onnxruntime: ONNX export, graph optimisation, int8 quantization.

Every recipe starts from the same export: the checkpoint, with its classifier rows permuted
into CIFAR order (``compbench.models.cifar.vit_logits.save_cifar_ordered``), goes through
``optimum.exporters.onnx.main_export`` at a fixed opset; output 0 of every graph is then the
CIFAR-ordered logits the task scores. From there:

* ``optimized`` (rows ``ort-O2``/``ort-O3``, the row's ``level``): ``ORTOptimizer`` with
  ``AutoOptimizationConfig.O2``/``O3`` (O2: basic, extended and transformer fusions; O3 adds
  the tanh GELU approximation). The fused graph uses
  com.microsoft contrib ops: onnxruntime only. On the bundled ViT no Attention fusion happens
  and O2 is *slower* at batch 1 than the plain export, on which the session's own
  ORT_ENABLE_ALL fusions already apply (docs/studies/design-measurements.md: what was tried).
* ``int8_dynamic``: ``ORTQuantizer`` with ``AutoQuantizationConfig.avx512_vnni(is_static=False)``
  (QOperator format, int8 per-channel weights, uint8 activations quantized at run time). Its
  batch axis is fixed to 1: a run-time activation scale spans the whole input tensor, so a
  batch-100 evaluation would score other numerics (docs/studies/design-measurements.md) than the
  batch-1 inference the latency column times.
* ``int8_static``: ``ORTQuantizer`` with ``avx512_vnni(is_static=True)`` (QDQ format), calibrated
  with MinMax on the task's calibration images. The ``datasets`` package is not installed, so
  the ``CalibrationConfig`` is built by hand and ``fit`` gets a plain list of feature dicts.

Quantization starts from the plain export (not the O2 graph): onnxruntime's quantizers know the
standard ops, and the session's own ORT_ENABLE_ALL fusions still apply on top at load time.
Optimum's side files (config.json, ort_config.json, preprocessor_config.json) stay in the
scratch folder; ``out_dir`` holds only ``model.onnx``, so the size column is the graph alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in

os.environ["HF_HUB_OFFLINE"] = "1"  # local folders only: nothing here may touch the Hub
os.environ.setdefault("USE_TF", "0")

OPSET = 18  # optimum's recommended minimum for ViT; fixed so a library upgrade cannot move it
TASK = "image-classification"
INPUT_NAME = "pixel_values"


# -- building blocks (also used by tests/test_vit_optimum.py on a tiny random ViT) ------------
def export_folder(vit, folder: Path) -> Path:
    """Optimum ONNX export of a ``CifarVit`` into ``folder`` (model.onnx + config.json)."""
    from optimum.exporters.onnx import main_export

    from compbench.models.cifar.vit_logits import save_cifar_ordered

    checkpoint = save_cifar_ordered(vit, folder.parent / f"{folder.name}-checkpoint")
    main_export(str(checkpoint), str(folder), task=TASK, opset=OPSET, device="cpu",
                local_files_only=True, do_validation=False, library_name="transformers")
    return folder / "model.onnx"


def optimize_folder(exported: Path, level: str, folder: Path) -> Path:
    """``ORTOptimizer`` at ``level`` ("O2" | "O3") of an exported folder → the optimised graph."""
    from optimum.onnxruntime import AutoOptimizationConfig, ORTOptimizer

    config = AutoOptimizationConfig.with_optimization_level(level, for_gpu=False)
    optimizer = ORTOptimizer.from_pretrained(exported.parent, file_names=[exported.name])
    optimizer.optimize(optimization_config=config, save_dir=folder, file_suffix="optimized")
    return folder / f"{exported.stem}_optimized.onnx"


def quantize_dynamic_folder(exported: Path, folder: Path) -> Path:
    """``ORTQuantizer`` dynamic int8 (avx512_vnni preset, per-channel weights)."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
    quantizer = ORTQuantizer.from_pretrained(exported.parent, file_name=exported.name)
    quantizer.quantize(quantization_config=config, save_dir=folder, file_suffix="quantized")
    return folder / f"{exported.stem}_quantized.onnx"


def fix_batch(graph: Path, size: int = 1) -> Path:
    """Pin the batch axis of the graph's inputs and outputs to ``size`` (in place)."""
    import onnx

    model = onnx.load(str(graph))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].dim_value = size  # replaces the symbolic "batch_size"
    onnx.save(model, str(graph))
    return graph


def quantize_static_folder(exported: Path, samples, folder: Path) -> Path:
    """``ORTQuantizer`` static int8, QDQ, MinMax-calibrated on ``samples`` (N×3×H×W arrays).

    ``fit`` runs in ``folder`` because onnxruntime's calibrator writes its augmented model (and
    temporaries) relative to the working directory.
    """
    from onnxruntime.quantization import CalibrationMethod
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, CalibrationConfig

    samples = list(samples)
    calibration = CalibrationConfig(
        dataset_name="cifar10-train-calibration", dataset_config_name="compbench",
        dataset_split="train", dataset_num_samples=len(samples), method=CalibrationMethod.MinMax)
    # batch_size=1: ORTCalibrationDataReader wraps each value in a list → one sample per run.
    features = [{INPUT_NAME: sample.reshape(sample.shape[-3:])} for sample in samples]
    quantizer = ORTQuantizer.from_pretrained(exported.parent, file_name=exported.name)
    config = AutoQuantizationConfig.avx512_vnni(is_static=True, per_channel=True)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(folder):
        ranges = quantizer.fit(dataset=features, calibration_config=calibration,
                               onnx_augmented_model_name=folder / "augmented_model.onnx",
                               operators_to_quantize=config.operators_to_quantize, batch_size=1)
    quantizer.quantize(quantization_config=config, save_dir=folder, file_suffix="quantized",
                       calibration_tensors_range=ranges)
    return folder / f"{exported.stem}_quantized.onnx"


# -- recipes ---------------------------------------------------------------------------------
def _exported(ctx: RecipeContext) -> Path:
    return export_folder(ctx.source_model(), ctx.scratch_dir() / "exported")


def _emit(ctx: RecipeContext, graph: Path) -> Artifact:
    target = artifact_in(ctx.out_dir, "onnx")
    shutil.copyfile(graph, target.path)
    return target


def onnx_export(ctx: RecipeContext) -> Artifact:
    return _emit(ctx, _exported(ctx))


def optimized(ctx: RecipeContext, *, level: str) -> Artifact:
    """ORTOptimizer at the row's ``level`` (``O1``…``O4``, optimum's names)."""
    return _emit(ctx, optimize_folder(_exported(ctx), level, ctx.scratch_dir() / level.lower()))


def int8_dynamic(ctx: RecipeContext) -> Artifact:
    quantized = quantize_dynamic_folder(_exported(ctx), ctx.scratch_dir() / "dynamic")
    return _emit(ctx, fix_batch(quantized, 1))


def int8_static(ctx: RecipeContext) -> Artifact:
    exported = _exported(ctx)
    return _emit(ctx, quantize_static_folder(exported, ctx.calibration_inputs(),
                                             ctx.scratch_dir() / "static"))
