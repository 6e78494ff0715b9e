"""TensorFlow executing a tf_keras model (.h5) through one traced ``tf.function``.

Eager Keras calls re-dispatch every layer from Python; tracing once is what a deployment would
do and what makes the latency comparable with the compiled engines.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compbench.engines.base import Engine, EngineSpec, Session, kernel_census, op_census
from compbench.quiet import import_quietly

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

ENGINES = (
    EngineSpec(name="keras", artifact_format="keras", requires=("tensorflow", "tf_keras"),
               family="tensorflow",
               description="TensorFlow, tf_keras model traced once with tf.function"),
)


def pin_tf_threads(threads: int) -> None:
    tf = import_quietly("tensorflow")  # the first import prints absl notices to fd 2

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # the runtime is already initialised (e.g. by a recipe): settings are fixed now


class KerasSession(Session):
    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self.call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        outputs = self.call(inputs)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [np.asarray(o) for o in outputs]


    def census(self) -> dict[str, int | float]:
        """TensorFlow runs every Keras layer in float here, so the convolutions and dense layers
        of the loaded model (nested models included) are float; the kernels are their weights
        as loaded (what tfmot's strip left: zeros, clustered values, kept channels)."""
        import tf_keras

        counts = dict.fromkeys(("int8_convs", "float_convs", "int8_matmuls", "float_matmuls"), 0)
        kernels = []
        for layer in _layers(self.model):
            if isinstance(layer, tf_keras.layers.DepthwiseConv2D):  # kernel H, W, C, multiplier
                kernel = np.asarray(layer.depthwise_kernel)
                kernels.append(kernel.transpose(2, 3, 0, 1).reshape(-1, *kernel.shape[:2]))
            elif isinstance(layer, tf_keras.layers.Conv2D):  # kernel H, W, in, out
                kernels.append(np.moveaxis(np.asarray(layer.kernel), -1, 0))
            elif isinstance(layer, tf_keras.layers.Dense):
                counts["float_matmuls"] += 1
        counts["float_convs"] = len(kernels)
        return {**op_census(**counts), **kernel_census(kernels)}


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


class KerasEngine(Engine):
    def load(self, artifact: Path) -> Session:
        pin_tf_threads(self.threads)
        import tf_keras

        return KerasSession(tf_keras.models.load_model(artifact, compile=False))


def create(config: EngineSpec) -> Engine:
    return KerasEngine(config)
