"""A tf_keras model → fp32 TFLite flatbuffer, no optimisation flags (that is a recipe's job)."""

from __future__ import annotations

from pathlib import Path

SOURCE = "keras"
TARGET = "tflite"
REQUIRES = ("tensorflow", "tf_keras")


def convert(source: Path, target: Path, input_shape: tuple[int, ...],
            dynamic_batch: bool = False) -> None:
    import tensorflow as tf
    import tf_keras

    model = tf_keras.models.load_model(source, compile=False)
    target.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
