"""TorchScript-based ONNX export (dynamo=False): a plain, stable graph that every runtime reads.

Outputs are named ``out0..outN`` in the module's output order, as the official SCRFD export does.
"""

from __future__ import annotations

from pathlib import Path

SOURCE = "torch"
TARGET = "onnx"
# Measured: the TorchScript exporter loads torch and onnx; onnxscript only the dynamo one.
REQUIRES = ("torch", "onnx")

OPSET = 17


def convert(source: Path, target: Path, input_shape: tuple[int, ...],
            dynamic_batch: bool = False) -> None:
    """``dynamic_batch`` names axis 0 "batch" so evaluation can feed many images per call."""
    import torch

    module = torch.load(source, weights_only=False, map_location="cpu").eval()
    example = torch.zeros(input_shape)
    with torch.inference_mode():
        outputs = module(example)
    count = 1 if isinstance(outputs, torch.Tensor) else len(outputs)
    names = [f"out{i}" for i in range(count)]
    dynamic_axes = {name: {0: "batch"} for name in ["images", *names]} if dynamic_batch else None
    torch.onnx.export(module, (example,), str(target), input_names=["images"],
                      output_names=names, opset_version=OPSET, dynamic_axes=dynamic_axes,
                      dynamo=False, do_constant_folding=True)
