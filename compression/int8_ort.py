"""``int8-ort``: onnxruntime static int8 quantization, QDQ format, calibrated on the calibration images.

Static, not ``quantize_dynamic``: dynamic quantization turns convolutions into ConvInteger,
which onnxruntime runs several times slower than fp32 on CNNs. The QDQ graph also runs on
OpenVINO, which fuses the Q/DQ pairs into its own int8 kernels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from tqdm import tqdm

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact, artifact_in


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader protocol over our preprocessed inputs."""

    def __init__(self, input_name: str, inputs: Iterator[np.ndarray], total: int | None):
        self.input_name = input_name
        self.inputs = iter(tqdm(inputs, total=total, desc="calibrate int8-ort", unit="img"))

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.inputs, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:  # pragma: no cover - called only by multi-pass calibrators
        raise NotImplementedError


def int8_ort(ctx: RecipeContext) -> Artifact:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32 = ctx.fp32_onnx()
    prepared = ctx.scratch_dir() / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    target = artifact_in(ctx.out_dir, "onnx")
    reader = _CalibrationReader("images", ctx.calibration_inputs(), ctx.task.calibration_size)
    quantize_static(str(prepared), str(target.path), reader,
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return target
