"""onnxruntime on the CPU execution provider with explicit intra-op threads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engines.base import Engine, EngineConfig, Session


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
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        return OrtSession(ort.InferenceSession(str(artifact), options,
                                               providers=["CPUExecutionProvider"]))


def create(config: EngineConfig) -> Engine:
    return OnnxRuntimeEngine(config)
