"""PyTorch eager execution of a pickled ``nn.Module`` (fp32, pruned or int8-quantized).

torch is imported inside functions: the registry imports every engine module to read its
declaration, also where torch is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from compbench.engines.base import Engine, EngineSpec, Session, kernel_census, op_census

if TYPE_CHECKING:
    import torch

ENGINES = (
    EngineSpec(name="torch", artifact_format="torch", requires=("torch",), family="torch",
               description="PyTorch eager, inference_mode",
               output_tolerance=0.0),  # the reference the others are compared with
)


def pin_torch_threads(threads: int) -> None:
    import torch

    # torch's pool is process-wide: re-pin before every call, other engines may have moved it.
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def use_emulated_quantized_engine() -> None:
    """Below AVX-512 VNNI torch's x86 engine sends int8 convolutions to fbgemm, a choice made
    from CPUID that no variable flips: an emulated class of that kind selects it here."""
    from compbench.isa_emulation import torch_quantized_engine

    engine = torch_quantized_engine()
    if engine is not None:
        import torch

        torch.backends.quantized.engine = engine


def outputs_to_numpy(outputs) -> list[np.ndarray]:
    import torch

    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    return [o.detach().numpy() for o in outputs]


class TorchSession(Session):
    def __init__(self, module: torch.nn.Module, threads: int):
        self.module = module
        self.threads = threads

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        import torch

        pin_torch_threads(self.threads)
        with torch.inference_mode():
            return outputs_to_numpy(self.module(torch.from_numpy(inputs)))

    def census(self) -> dict[str, int | float]:
        return module_census(self.module)


QUANTIZED_MODULES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")


def executed_modules(module: torch.nn.Module) -> list[torch.nn.Module]:
    """The submodules a forward calls: an FX graph's ``call_module`` targets (a converted
    int8 model keeps float leftovers it no longer calls), else every submodule."""
    import torch.fx

    if isinstance(module, torch.fx.GraphModule):
        return [module.get_submodule(node.target) for node in module.graph.nodes
                if node.op == "call_module"]
    return list(module.modules())


def module_census(module: torch.nn.Module) -> dict[str, int | float]:
    """int8 and float convolutions and linears among the modules the forward calls, by type
    (torch.ao quantized modules run quantized::* kernels, nn.Conv2d/nn.Linear float ones),
    and the conv kernels' structure."""
    import torch

    counts = dict.fromkeys(("int8_convs", "float_convs", "int8_matmuls", "float_matmuls"), 0)
    kernels = []
    for sub in executed_modules(module):
        name = type(sub).__name__
        if type(sub).__module__.startswith(QUANTIZED_MODULES):
            kind = "convs" if "Conv" in name else "matmuls" if "Linear" in name else None
            if kind:
                counts[f"int8_{kind}"] += 1
            if kind == "convs":
                kernels.append(sub.weight().dequantize().numpy())
        elif isinstance(sub, torch.nn.modules.conv._ConvNd):
            counts["float_convs"] += 1
            kernels.append(sub.weight.detach().numpy())
        elif isinstance(sub, torch.nn.Linear):
            counts["float_matmuls"] += 1
    return {**op_census(**counts), **kernel_census(kernels)}


class TorchEagerEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import torch

        pin_torch_threads(self.threads)
        use_emulated_quantized_engine()
        # The artifact comes from our own content-addressed cache, built by this code: trusted.
        module = torch.load(artifact, weights_only=False, map_location="cpu")
        module.eval()
        return TorchSession(module, self.threads)


def create(config: EngineSpec) -> Engine:
    return TorchEagerEngine(config)
