"""A tf_keras model → OpenVINO IR (via a SavedModel: the form OpenVINO's TF frontend reads)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from compbench.formats.openvino_ir import save_ir

SOURCE = "keras"
TARGET = "openvino"
# tf_keras writes the SavedModel (TensorFlow); OpenVINO reads it.
REQUIRES = ("openvino", "tensorflow", "tf_keras")


def convert(source: Path, target: Path, input_shape: tuple[int, ...],
            dynamic_batch: bool = False) -> None:
    import openvino as ov
    import tf_keras

    model = tf_keras.models.load_model(source, compile=False)
    with tempfile.TemporaryDirectory(prefix="compbench-savedmodel-") as saved:
        model.save(saved, save_format="tf")
        shape = [-1 if dynamic_batch else input_shape[0], *input_shape[1:]]
        converted = ov.convert_model(saved, input=[shape])
    save_ir(converted, target)
