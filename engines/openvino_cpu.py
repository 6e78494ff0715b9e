"""OpenVINO CPU plugin: latency hint, one stream, explicit threads.

The f32 precision hint matters: on CPUs with bf16/AMX support OpenVINO would otherwise run an
"fp32" model in bf16 and the fp32 row would silently measure something else.

openvino is imported inside functions: the registry imports every engine module to read its
declaration, also where openvino is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engines.base import Engine, EngineSpec, Session

if TYPE_CHECKING:
    import openvino as ov

ENGINES = (
    EngineSpec(name="openvino", artifact_format="openvino", requires=("openvino",),
               family="openvino",
               description="OpenVINO CPU plugin, latency hint, f32 precision hint",
               output_tolerance=1e-3),  # its own conv kernels and fusions, in f32: looser
)


class OpenVINOSession(Session):
    def __init__(self, compiled: ov.CompiledModel):
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.outputs = list(compiled.outputs)

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        results = self.request.infer({0: inputs})
        return [np.asarray(results[output]) for output in self.outputs]

    def accepts_batch(self, size: int) -> bool:
        batch = self.compiled.inputs[0].get_partial_shape()[0]
        return batch.is_dynamic or batch.get_length() == size


class OpenVINOEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import openvino as ov

        core = ov.Core()
        properties = {
            "INFERENCE_NUM_THREADS": self.threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        return OpenVINOSession(core.compile_model(core.read_model(str(artifact)), "CPU", properties))


def create(config: EngineSpec) -> Engine:
    return OpenVINOEngine(config)
