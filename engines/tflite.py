"""The TFLite (LiteRT) interpreter with explicit threads.

Full-integer models take and return int8: the session quantizes inputs and dequantizes outputs
with the tensors' own scale/zero-point, so callers always exchange float32 like every engine.
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
    EngineSpec(name="tflite", artifact_format="tflite", requires=("tensorflow",),
               family="tensorflow",
               description="TFLite interpreter (XNNPACK delegate for float models)"),
)


def _interpreter_class():
    try:  # the standalone LiteRT runtime, when installed, is the maintained one
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        tf = import_quietly("tensorflow")  # the first import prints absl notices to fd 2

        Interpreter = tf.lite.Interpreter
    return Interpreter


def _create_interpreter(path: Path, threads: int):
    import warnings

    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice, once per load
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return _interpreter_class()(model_path=str(path), num_threads=threads)


class TFLiteSession(Session):
    def __init__(self, interpreter):
        self.interpreter = interpreter
        interpreter.allocate_tensors()
        self.input = interpreter.get_input_details()[0]
        self.outputs = interpreter.get_output_details()

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        interpreter = self.interpreter
        if tuple(inputs.shape) != tuple(self.input["shape"]):  # batch size changed: re-plan
            interpreter.resize_tensor_input(self.input["index"], list(inputs.shape))
            interpreter.allocate_tensors()
            self.input = interpreter.get_input_details()[0]
            self.outputs = interpreter.get_output_details()
        detail = self.input
        if detail["dtype"] != np.float32:
            scale, zero_point = detail["quantization"]
            info = np.iinfo(detail["dtype"])
            inputs = np.clip(np.round(inputs / scale + zero_point), info.min, info.max)
        interpreter.set_tensor(detail["index"], inputs.astype(detail["dtype"], copy=False))
        interpreter.invoke()
        results = []
        for output in self.outputs:
            value = interpreter.get_tensor(output["index"])
            if output["dtype"] != np.float32:
                scale, zero_point = output["quantization"]
                value = (value.astype(np.float32) - zero_point) * scale
            results.append(value)
        return results


class TFLiteEngine(Engine):
    def load(self, artifact: Path) -> Session:
        return TFLiteSession(_create_interpreter(artifact, self.threads))


def create(config: EngineSpec) -> Engine:
    return TFLiteEngine(config)
