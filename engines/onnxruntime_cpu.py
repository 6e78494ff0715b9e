"""onnxruntime on the CPU execution provider with explicit intra-op threads.

Worker threads stop spinning when a run ends (``session.force_spinning_stop=1``); they still
spin between the operators of a run, onnxruntime's fast path. Every speed-up is timed as a pair
of sessions taking turns, and by default an idle session's threads keep busy-waiting after its
run, on the cores the other session is being timed on, which scattered the per-round ratio on
two cores. Stopping the spin at the end of a run narrows the pair at the same latency alone,
where switching spinning off altogether would have cost latency (docs/concepts/speed-gate.md,
"Machine state").

onnxruntime is imported inside functions: the registry imports every engine module to read its
declaration, also where onnxruntime is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from compbench.engines.base import Engine, EngineSpec, Session, kernel_census, op_census

if TYPE_CHECKING:
    import onnxruntime as ort

# Graph optimisation fuses and reorders float operations: close to torch, not bit-equal.
ENGINES = (
    EngineSpec(name="onnxruntime", artifact_format="onnx", requires=("onnxruntime", "onnx"),
               family="onnxruntime", description="onnxruntime CPU EP, all cores",
               output_tolerance=1e-4),
    EngineSpec(name="onnxruntime-1t", artifact_format="onnx",
               requires=("onnxruntime", "onnx"),
               family="onnxruntime", description="onnxruntime CPU EP, one intra-op thread",
               threads=1, output_tolerance=1e-4),
)


# Operator types (any domain: onnxruntime's fused com.microsoft and NCHWc variants keep them)
INT8_CONVS = frozenset({"QLinearConv", "ConvInteger"})
FLOAT_CONVS = frozenset({"Conv", "FusedConv", "ConvTranspose"})
INT8_MATMULS = frozenset({"QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat",
                          "DynamicQuantizeMatMul", "QGemm", "QAttention"})
FLOAT_MATMULS = frozenset({"MatMul", "Gemm", "FusedMatMul", "FusedGemm", "Attention",
                           "MultiHeadAttention"})


class OrtSession(Session):
    def __init__(self, session: ort.InferenceSession, artifact: Path | None = None,
                 create: Callable[[Path | None], ort.InferenceSession] | None = None):
        """``create`` builds a session exactly as this one was built (same options, same
        optimisers), optionally saving the graph it optimised: what ``census`` counts."""
        self.session = session
        self.artifact = artifact
        self.create = create
        self.input_name = session.get_inputs()[0].name

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        return self.session.run(None, {self.input_name: inputs})

    def accepts_batch(self, size: int) -> bool:
        batch = self.session.get_inputs()[0].shape[0]
        return not isinstance(batch, int) or batch == size

    def census(self) -> dict[str, int | float]:
        """Counted in the graph onnxruntime optimised from the artifact — QDQ pairs fused into
        QLinearConv or left as DequantizeLinear + float Conv, which is the whole difference
        between an int8 and a float model here. onnxruntime exposes that graph only by saving
        it while a session is built, so a session is built again the way this one was (same
        options and disabled optimisers, which fix the graph) and its graph read back; the
        structure is read from the artifact's own kernels."""
        import tempfile

        import onnx

        if self.create is None or self.artifact is None:
            return {}
        with tempfile.TemporaryDirectory(prefix="compbench-census-") as folder:
            optimized = Path(folder) / "optimized.onnx"
            self.create(optimized)
            executed = onnx.load(str(optimized), load_external_data=False)
        kinds = [node.op_type for node in executed.graph.node]
        return {**op_census(sum(k in INT8_CONVS for k in kinds), sum(k in FLOAT_CONVS for k in kinds),
                            sum(k in INT8_MATMULS for k in kinds),
                            sum(k in FLOAT_MATMULS for k in kinds)),
                **kernel_census(_conv_kernels(onnx.load(str(self.artifact))))}


def _conv_kernels(model) -> list[np.ndarray]:
    """Each Conv's weight initializer (through a DequantizeLinear in a QDQ model)."""
    from onnx import numpy_helper

    initializers = {init.name: init for init in model.graph.initializer}
    dequantized = {node.output[0]: node.input[0] for node in model.graph.node
                   if node.op_type == "DequantizeLinear"}
    kernels = []
    for node in model.graph.node:
        if node.op_type in FLOAT_CONVS | INT8_CONVS and len(node.input) > 1:
            weight = node.input[3] if node.op_type == "QLinearConv" else node.input[1]
            weight = dequantized.get(weight, weight)
            if weight in initializers:
                kernels.append(numpy_helper.to_array(initializers[weight]))
    return kernels


class OnnxRuntimeEngine(Engine):
    def load(self, artifact: Path) -> Session:
        return self.load_with(artifact)

    def load_with(self, artifact: Path, config_entries: dict[str, str] | None = None,
                  disabled_optimizers: Sequence[str] = ()) -> Session:
        """``load`` with session config entries or graph optimisers changed on top of the
        bench's options: how docs/speed-gate-study switches off one fast path at a time."""
        import onnxruntime as ort

        def create(optimized: Path | None = None) -> ort.InferenceSession:
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            entries = {"session.force_spinning_stop": "1", **(config_entries or {})}
            for key, value in entries.items():
                options.add_session_config_entry(key, value)
            if optimized is not None:   # the census's copy of the optimised graph
                options.optimized_model_filepath = str(optimized)
            return ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=list(disabled_optimizers))

        return OrtSession(create(), artifact, create)


def create(config: EngineSpec) -> Engine:
    return OnnxRuntimeEngine(config)
