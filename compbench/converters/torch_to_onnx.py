"""TorchScript-based ONNX export (dynamo=False): a plain, stable graph that every runtime reads.

Outputs are named ``out0..outN`` in the module's output order, as the official SCRFD export does.
"""

from __future__ import annotations

from pathlib import Path

import torch

OPSET = 17


def convert(source: Path, target: Path, input_shape: tuple[int, ...]) -> None:
    module = torch.load(source, weights_only=False, map_location="cpu").eval()
    example = torch.zeros(input_shape)
    with torch.inference_mode():
        outputs = module(example)
    count = 1 if isinstance(outputs, torch.Tensor) else len(outputs)
    torch.onnx.export(module, (example,), str(target), input_names=["images"],
                      output_names=[f"out{i}" for i in range(count)], opset_version=OPSET,
                      dynamo=False, do_constant_folding=True)
