"""TorchScript execution of a scripted, frozen module saved with ``torch.jit.save``."""

from __future__ import annotations

from pathlib import Path

from engines.base import Engine, EngineSpec, Session
from engines.torch_eager import TorchSession, pin_torch_threads, use_emulated_quantized_engine

ENGINES = (
    EngineSpec(name="torchscript", artifact_format="torchscript", requires=("torch",),
               family="torch", description="TorchScript (scripted, frozen)",
               output_tolerance=1e-4),  # freezing folds batch norms into the convolutions
)


class TorchScriptEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import torch

        pin_torch_threads(self.threads)
        use_emulated_quantized_engine()
        return TorchSession(torch.jit.load(str(artifact), map_location="cpu").eval(), self.threads)


def create(config: EngineSpec) -> Engine:
    return TorchScriptEngine(config)
