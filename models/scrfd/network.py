"""The complete SCRFD_500M_KPS network: backbone -> PAFPN -> per-stride heads.

``forward`` returns the nine tensors in the official ONNX output order so any consumer of that
export (decoders, evaluation, other engines) can take the native model unchanged; unlike the
export, the batch dimension is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from compbench.models.scrfd.backbone import OUT_CHANNELS, MobileNetV1Backbone
from compbench.models.scrfd.head import SCRFDHead
from compbench.models.scrfd.neck import PAFPN

STRIDES = (8, 16, 32)
OUTPUT_NAMES = tuple(f"out{i}" for i in range(9))

SCRFDOutputs = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


class SCRFD(nn.Module):
    """Input: RGB, (x - 127.5) / 128, NCHW float32 (see ``preprocess.letterbox``).

    Output: scores s8, s16, s32 (B, N, 1); box distances s8..s32 (B, N, 4); keypoint offsets
    s8..s32 (B, N, 10); N = H/stride * W/stride * 2, distances in stride units.
    """

    def __init__(self, neck_channels: int = 16, head_channels: int = 64) -> None:
        super().__init__()
        self.backbone = MobileNetV1Backbone()
        self.neck = PAFPN(OUT_CHANNELS, neck_channels)
        self.bbox_head = SCRFDHead(len(STRIDES), neck_channels, head_channels)

    def forward(self, images: Tensor) -> SCRFDOutputs:
        c3, c4, c5 = self.backbone(images)
        scores, boxes, kps = self.bbox_head(self.neck([c3, c4, c5]))
        return (scores[0], scores[1], scores[2],
                boxes[0], boxes[1], boxes[2],
                kps[0], kps[1], kps[2])


def torch_runner(model: nn.Module) -> Callable[[np.ndarray], list[np.ndarray]]:
    """Adapt a (possibly scripted) SCRFD module to the engine-agnostic ``detector.detect``."""

    def run(blob: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            outputs = model(torch.from_numpy(np.ascontiguousarray(blob, dtype=np.float32)))
        return [out.numpy() for out in outputs]

    return run
