"""TensorFlow executing a tf_keras model (.h5) through one traced ``tf.function``.

Eager Keras calls re-dispatch every layer from Python; tracing once is what a deployment would
do and what makes the latency comparable with the compiled engines.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compbench.quiet import import_quietly
from engines.base import Engine, EngineSpec, Session

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


class KerasEngine(Engine):
    def load(self, artifact: Path) -> Session:
        pin_tf_threads(self.threads)
        import tf_keras

        return KerasSession(tf_keras.models.load_model(artifact, compile=False))


def create(config: EngineSpec) -> Engine:
    return KerasEngine(config)
