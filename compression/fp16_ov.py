"""``fp16-ov``: OpenVINO IR with fp16 weights: half the size on disk; the CPU plugin computes in f32."""

from __future__ import annotations

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in
from compbench.formats.openvino_ir import save_ir


def fp16_ov(ctx: RecipeContext) -> Artifact:
    import openvino as ov

    target = artifact_in(ctx.out_dir, "openvino")
    save_ir(ov.convert_model(str(ctx.fp32_onnx())), target.path, compress_to_fp16=True)
    return target
