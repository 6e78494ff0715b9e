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

from compbench.engines.base import Engine, EngineSpec, Session, kernel_census, op_census

if TYPE_CHECKING:
    import openvino as ov

ENGINES = (
    EngineSpec(name="openvino", artifact_format="openvino", requires=("openvino",),
               family="openvino",
               description="OpenVINO CPU plugin, latency hint, f32 precision hint",
               output_tolerance=1e-3),  # its own conv kernels and fusions, in f32: looser
)


# runtime-model layer types (the CPU plugin's names, not opset names) and precisions
CONVS, MATMULS = frozenset({"Convolution", "Deconvolution"}), frozenset({"FullyConnected", "MatMul"})
INT8, FLOAT = frozenset({"i8", "u8"}), frozenset({"f32"})
# what stands between a kernel's Constant and its convolution (NNCF decompression, fp16 IR)
KERNEL_PASSTHROUGH = frozenset({"Convert", "Subtract", "Multiply", "Reshape", "Transpose",
                                "FakeQuantize"})


class OpenVINOSession(Session):
    def __init__(self, compiled: ov.CompiledModel, model: ov.Model | None = None):
        self.compiled = compiled
        self.model = model
        self.request = compiled.create_infer_request()
        self.outputs = list(compiled.outputs)

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        results = self.request.infer({0: inputs})
        return [np.asarray(results[output]) for output in self.outputs]

    def accepts_batch(self, size: int) -> bool:
        batch = self.compiled.inputs[0].get_partial_shape()[0]
        return batch.is_dynamic or batch.get_length() == size

    def census(self) -> dict[str, int | float]:
        """Counted in the CPU plugin's runtime model (``get_runtime_model``: the layers it
        executes, after its low-precision transformations), each by its ``runtimePrecision``:
        a FakeQuantize the plugin did not fold leaves a convolution in f32, counted as float.
        A layer in bf16/f16 counts as neither (the f32 hint should rule that out). The
        structure is read from the kernels of the model as read from the artifact."""
        counts = dict.fromkeys(("int8_convs", "float_convs", "int8_matmuls", "float_matmuls"), 0)
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            layer, precision = (str(info[key].astype(str)) if key in info else ""
                                for key in ("layerType", "runtimePrecision"))
            kind = "convs" if layer in CONVS else "matmuls" if layer in MATMULS else None
            if kind and precision in INT8 | FLOAT:
                counts[f"{'int8' if precision in INT8 else 'float'}_{kind}"] += 1
        structure = kernel_census(_conv_kernels(self.model)) if self.model is not None else {}
        return {**op_census(**counts), **structure}


def _conv_kernels(model: ov.Model) -> list[np.ndarray]:
    kernels = []
    for op in model.get_ordered_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution"):
            continue
        source = op.input(1).get_source_output().get_node()
        while source.get_type_name() in KERNEL_PASSTHROUGH:
            source = source.input(0).get_source_output().get_node()
        if source.get_type_name() == "Constant":
            kernel = np.asarray(source.get_data())
            if op.get_type_name() == "GroupConvolution" and kernel.ndim > 2:  # G, O/G, I/G, ...
                kernel = kernel.reshape(-1, *kernel.shape[2:])
            kernels.append(kernel)
    return kernels


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
        model = core.read_model(str(artifact))
        return OpenVINOSession(core.compile_model(model, "CPU", properties), model)


def create(config: EngineSpec) -> Engine:
    return OpenVINOEngine(config)
