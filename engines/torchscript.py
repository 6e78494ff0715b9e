"""TorchScript execution of a scripted, frozen module saved with ``torch.jit.save``."""

from __future__ import annotations

from pathlib import Path

import torch

from engines.base import Engine, EngineConfig, Session
from engines.torch_eager import TorchSession, pin_torch_threads


class TorchScriptEngine(Engine):
    def load(self, artifact: Path) -> Session:
        pin_torch_threads(self.threads)
        return TorchSession(torch.jit.load(str(artifact), map_location="cpu").eval(), self.threads)


def create(config: EngineConfig) -> Engine:
    return TorchScriptEngine(config)
