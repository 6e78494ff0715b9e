"""ONNX → OpenVINO IR, keeping fp32 weights (``save_model`` would halve them to fp16 by default,
which would make the fp32 row measure an fp16 model)."""

from __future__ import annotations

from pathlib import Path

from compbench.formats.openvino_ir import save_ir

SOURCE = "onnx"
TARGET = "openvino"
# OpenVINO's ONNX frontend is native code: the onnx Python package is not loaded (measured).
REQUIRES = ("openvino",)


def convert(source: Path, target: Path, input_shape: tuple[int, ...],
            dynamic_batch: bool = False) -> None:
    import openvino as ov

    save_ir(ov.convert_model(str(source)), target)
