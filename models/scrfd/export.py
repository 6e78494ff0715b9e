"""ONNX export of the native SCRFD with the official output names and order.

Uses the TorchScript-based exporter (``dynamo=False``): for this purely convolutional graph it
gives a small, deterministic ONNX (Conv/Relu/Resize/Add/Transpose/Reshape/Sigmoid) that every
runtime we benchmark accepts, with no dependence on the dynamo tracer's version-to-version output.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from compbench.models.scrfd.network import OUTPUT_NAMES, SCRFD

OPSET = 17
INPUT_NAME = "images"


def export_onnx(model: SCRFD, path: str | Path, input_size: int = 640, batch: int = 1) -> Path:
    """Write ``model`` to ``path`` with a static (batch, 3, input_size, input_size) input.

    Static shapes on purpose: compression back-ends (quantisers, TensorRT-style builders) handle
    them best, and a benchmark compares fixed shapes anyway. Outputs keep the batch dimension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    dummy = torch.zeros(batch, 3, input_size, input_size)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The legacy exporter announces its own deprecation; the choice is deliberate (above).
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            torch.onnx.export(
                model, (dummy,), str(path),
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
    finally:
        model.train(was_training)
    return path
