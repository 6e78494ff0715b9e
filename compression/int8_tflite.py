"""``int8-tflite``: TFLite full-integer post-training quantization (int8 weights, activations, input, output).

``TFLiteConverter`` with ``optimizations=[Optimize.DEFAULT]`` and a representative dataset: the
task's calibration inputs (a fixed, class-balanced 500-image train subset, batch 1, already
preprocessed) set every activation range. ``supported_ops=[TFLITE_BUILTINS_INT8]`` makes the
conversion fail instead of silently leaving float ops, and the model's input and output are
int8 too, as a microcontroller deployment would run it: the tflite engine quantizes the float
input and dequantizes the output with the tensors' own scale and zero point. Weights are
per-channel int8 (the converter's default), activations per-tensor int8.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: models are tf_keras

from compbench.compression.base import RecipeContext  # noqa: E402
from compbench.formats.artifacts import Artifact, artifact_in  # noqa: E402


def int8_tflite(ctx: RecipeContext) -> Artifact:
    artifact = artifact_in(ctx.out_dir, "tflite")
    artifact.path.write_bytes(quantize(ctx.source_model(), lambda: ctx.calibration_inputs()))
    return artifact


def quantize(model, calibration_inputs) -> bytes:
    """The int8 flatbuffer of ``model``; ``calibration_inputs()`` yields preprocessed batches."""
    import numpy as np
    import tensorflow as tf
    from tqdm import tqdm

    def representative_dataset():
        for inputs in tqdm(calibration_inputs(), desc="int8 calibration", unit="img",
                           leave=False, mininterval=1.0):
            yield [np.asarray(inputs, dtype=np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()
