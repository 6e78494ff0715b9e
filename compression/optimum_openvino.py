"""optimum-intel on OpenVINO: export to OpenVINO IR, then NNCF post-training int8 via OVQuantizer.

The checkpoint, classifier rows permuted into CIFAR order (``save_cifar_ordered``), is exported
with ``OVModelForImageClassification.from_pretrained(folder, export=True)`` and quantized with
``OVQuantizer.quantize`` and ``OVQuantizationConfig`` (static int8 of weights and activations,
NNCF's transformer model type: SmoothQuant, and no quantizers on the ops that hurt transformer
accuracy). optimum-intel's ``datasets``-based calibration helpers are not used (``datasets`` is
not installed): the task's calibration images go in directly as an ``nncf.Dataset`` of feature
dicts, which ``OVQuantizer.quantize`` accepts as is and hands to ``nncf.quantize``.

``openvino_model.xml``/``.bin`` are renamed to the suite's ``model.xml``/``model.bin``; the side
files (config.json, openvino_config.json, preprocessor_config.json) stay in the scratch folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in

os.environ["HF_HUB_OFFLINE"] = "1"  # local folders only: nothing here may touch the Hub
os.environ.setdefault("USE_TF", "0")

INPUT_NAME = "pixel_values"
OV_FILE = "openvino_model.xml"


def export_ov(vit, folder: Path):
    """``OVModelForImageClassification`` exported from a ``CifarVit`` (not compiled)."""
    from optimum.intel import OVModelForImageClassification

    from compbench.models.cifar.vit_logits import save_cifar_ordered

    checkpoint = save_cifar_ordered(vit, folder / "checkpoint")
    return OVModelForImageClassification.from_pretrained(  # str: optimum-intel calls str.replace
        str(checkpoint), export=True, compile=False, local_files_only=True)


def quantize_ov(model, samples, folder: Path, seed: int = 0) -> Path:
    """OVQuantizer static int8 of ``model`` calibrated on ``samples``; returns the saved .xml."""
    import nncf
    from optimum.intel import OVConfig, OVQuantizationConfig, OVQuantizer

    samples = [{INPUT_NAME: sample} for sample in samples]
    config = OVConfig(quantization_config=OVQuantizationConfig(
        bits=8, sym=False, num_samples=len(samples), model_type="transformer"))
    quantizer = OVQuantizer.from_pretrained(model, seed=seed)
    quantizer.quantize(calibration_dataset=nncf.Dataset(samples), ov_config=config,
                       save_directory=folder)
    return folder / OV_FILE


def int8_ov(ctx: RecipeContext) -> Artifact:
    model = export_ov(ctx.source_model(), ctx.scratch_dir())
    xml = quantize_ov(model, ctx.calibration_inputs(), ctx.scratch_dir() / "int8", ctx.seed)
    target = artifact_in(ctx.out_dir, "openvino")
    shutil.copyfile(xml, target.path)
    shutil.copyfile(xml.with_suffix(".bin"), target.path.with_suffix(".bin"))
    return target
