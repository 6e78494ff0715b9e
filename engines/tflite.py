"""The TFLite (LiteRT) interpreter with explicit threads.

Full-integer models take and return int8: the session quantizes inputs and dequantizes outputs
with the tensors' own scale/zero-point, so callers always exchange float32 like every engine.
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


    def census(self) -> dict[str, int | float]:
        """Counted over the interpreter's operators by the type of the activation each one
        reads (an int8 CONV_2D runs int8 kernels, in XNNPACK or the builtin ones; a float one
        float kernels); the kernels are the interpreter's own weight tensors."""
        interpreter = self.interpreter
        tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
        counts = dict.fromkeys(("int8_convs", "float_convs", "int8_matmuls", "float_matmuls"), 0)
        kernels = []
        for op in interpreter._get_ops_details():  # the only listing of the operators
            name, inputs = op["op_name"], [i for i in op["inputs"] if i >= 0]
            kind = "convs" if name in CONV_OPS else "matmuls" if name in MATMUL_OPS else None
            if kind is None or len(inputs) < 2:
                continue
            integer = np.dtype(tensors[inputs[0]]["dtype"]) in (np.int8, np.uint8)
            counts[f"{'int8' if integer else 'float'}_{kind}"] += 1
            if kind == "convs":
                kernel = interpreter.get_tensor(inputs[1])   # OHWI; depthwise 1HWC
                kernels.append(np.moveaxis(kernel, -1, 0) if name == "DEPTHWISE_CONV_2D" else kernel)
        return {**op_census(**counts), **kernel_census(kernels)}


CONV_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D"})
MATMUL_OPS = frozenset({"FULLY_CONNECTED", "BATCH_MATMUL"})


class TFLiteEngine(Engine):
    def load(self, artifact: Path) -> Session:
        return TFLiteSession(_create_interpreter(artifact, self.threads))


def create(config: EngineSpec) -> Engine:
    return TFLiteEngine(config)
