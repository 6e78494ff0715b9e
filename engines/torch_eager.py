"""PyTorch eager execution of a pickled ``nn.Module`` (fp32, pruned or int8-quantized)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engines.base import Engine, EngineConfig, Session


def pin_torch_threads(threads: int) -> None:
    # torch's pool is process-wide: re-pin before every call, other engines may have moved it.
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def outputs_to_numpy(outputs) -> list[np.ndarray]:
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    return [o.detach().numpy() for o in outputs]


class TorchSession(Session):
    def __init__(self, module: torch.nn.Module, threads: int):
        self.module = module
        self.threads = threads

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        pin_torch_threads(self.threads)
        with torch.inference_mode():
            return outputs_to_numpy(self.module(torch.from_numpy(inputs)))


class TorchEagerEngine(Engine):
    def load(self, artifact: Path) -> Session:
        pin_torch_threads(self.threads)
        # The artifact comes from our own content-addressed cache, built by this code: trusted.
        module = torch.load(artifact, weights_only=False, map_location="cpu")
        module.eval()
        return TorchSession(module, self.threads)


def create(config: EngineConfig) -> Engine:
    return TorchEagerEngine(config)
