"""TorchScript execution of a scripted, frozen module saved with ``torch.jit.save``."""

from __future__ import annotations

from pathlib import Path

from compbench.engines.base import Engine, EngineSpec, Session, kernel_census, op_census
from compbench.engines.torch_eager import TorchSession, pin_torch_threads, use_emulated_quantized_engine

ENGINES = (
    EngineSpec(name="torchscript", artifact_format="torchscript", requires=("torch",),
               family="torch", description="TorchScript (scripted, frozen)",
               output_tolerance=1e-4),  # freezing folds batch norms into the convolutions
)


class TorchScriptSession(TorchSession):
    def census(self) -> dict[str, int | float]:
        """Counted in the scripted graph with its calls inlined (what the interpreter runs):
        quantized::* convolution and linear nodes are int8, aten::* ones float; the kernels
        are the frozen graph's constants."""
        counts = dict.fromkeys(("int8_convs", "float_convs", "int8_matmuls", "float_matmuls"), 0)
        kernels = []
        for node in _nodes(self.module.inlined_graph):
            namespace, _, op = node.kind().partition("::")
            kind = ("convs" if "conv" in op else "matmuls" if op in MATMUL_OPS or "linear" in op
                    else None)
            if kind is None or namespace not in ("aten", "quantized"):
                continue
            counts[f"{'int8' if namespace == 'quantized' else 'float'}_{kind}"] += 1
            weight = node.inputsAt(1).node() if kind == "convs" and namespace == "aten" else None
            if weight is not None and weight.kind() == "prim::Constant":
                kernels.append(weight.output().toIValue().detach().numpy())
        return {**op_census(**counts), **kernel_census(kernels)}


MATMUL_OPS = frozenset({"linear", "matmul", "mm", "addmm", "bmm"})


def _nodes(block):
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _nodes(inner)


class TorchScriptEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import torch

        pin_torch_threads(self.threads)
        use_emulated_quantized_engine()
        return TorchScriptSession(torch.jit.load(str(artifact), map_location="cpu").eval(), self.threads)


def create(config: EngineSpec) -> Engine:
    return TorchScriptEngine(config)
