"""onnxruntime on the CPU execution provider with explicit intra-op threads.

onnxruntime is imported inside functions: the registry imports every engine module to read its
declaration, also where onnxruntime is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engines.base import Engine, EngineSpec, Session

if TYPE_CHECKING:
    import onnxruntime as ort

# Graph optimisation fuses and reorders float operations: close to torch, not bit-equal.
ENGINES = (
    EngineSpec(name="onnxruntime", artifact_format="onnx", requires=("onnxruntime",),
               family="onnxruntime", description="onnxruntime CPU EP, all cores",
               output_tolerance=1e-4),
    EngineSpec(name="onnxruntime-1t", artifact_format="onnx", requires=("onnxruntime",),
               family="onnxruntime", description="onnxruntime CPU EP, one intra-op thread",
               threads=1, output_tolerance=1e-4),
)


class OrtSession(Session):
    def __init__(self, session: ort.InferenceSession):
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        return self.session.run(None, {self.input_name: inputs})

    def accepts_batch(self, size: int) -> bool:
        batch = self.session.get_inputs()[0].shape[0]
        return not isinstance(batch, int) or batch == size


class OnnxRuntimeEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        return OrtSession(ort.InferenceSession(str(artifact), options,
                                               providers=["CPUExecutionProvider"]))


def create(config: EngineSpec) -> Engine:
    return OnnxRuntimeEngine(config)
