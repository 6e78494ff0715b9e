"""Script (not trace) so data-dependent code stays correct; freeze so weights become constants."""

from __future__ import annotations

from pathlib import Path

SOURCE = "torch"
TARGET = "torchscript"
REQUIRES = ("torch",)


def convert(source: Path, target: Path, input_shape: tuple[int, ...],
            dynamic_batch: bool = False) -> None:
    import torch

    module = torch.load(source, weights_only=False, map_location="cpu").eval()
    scripted = torch.jit.freeze(torch.jit.script(module))
    torch.jit.save(scripted, str(target))
