"""onnxruntime on the CPU execution provider with explicit intra-op threads.

Worker threads stop spinning when a run ends (``session.force_spinning_stop=1``); they still
spin between the operators of a run, onnxruntime's fast path. Every speed-up is timed as a pair
of sessions taking turns, and by default an idle session's threads keep busy-waiting after its
run, on the cores the other session is being timed on: on two cores that scattered the
per-round ratio by +-15 % (docs/speed-gate-study). Measured here: stopping the spin at the end
of a run narrows the pair 4x at the same latency alone (SCRFD fp32 min 8.75 vs 8.87 ms), where
switching spinning off altogether would have cost 20-35 %.

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
        return self.load_with(artifact)

    def load_with(self, artifact: Path, config_entries: dict[str, str] | None = None,
                  disabled_optimizers: Sequence[str] = ()) -> Session:
        """``load`` with session config entries or graph optimisers changed on top of the
        bench's options: how docs/speed-gate-study switches off one fast path at a time."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        entries = {"session.force_spinning_stop": "1", **(config_entries or {})}
        for key, value in entries.items():
            options.add_session_config_entry(key, value)
        return OrtSession(ort.InferenceSession(str(artifact), options,
                                               providers=["CPUExecutionProvider"],
                                               disabled_optimizers=list(disabled_optimizers)))


def create(config: EngineSpec) -> Engine:
    return OnnxRuntimeEngine(config)
