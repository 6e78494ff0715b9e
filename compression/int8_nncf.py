"""``int8-nncf``: NNCF post-training int8 quantization of the OpenVINO model (the fastest CPU int8
path here)."""

from __future__ import annotations

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in
from compbench.formats.openvino_ir import save_ir


def int8_nncf(ctx: RecipeContext) -> Artifact:
    import nncf
    import openvino as ov

    model = ov.convert_model(str(ctx.fp32_onnx()))
    samples = list(ctx.calibration_inputs())
    quantized = nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples),
                              preset=nncf.QuantizationPreset.PERFORMANCE)
    target = artifact_in(ctx.out_dir, "openvino")
    save_ir(quantized, target.path)
    return target
