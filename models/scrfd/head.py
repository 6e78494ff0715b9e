"""SCRFD detection head: one unshared tower per stride, then score / box / keypoint predictors.

Towers are not shared across strides (each stride has its own weights and BN statistics), and
there is no learnable per-stride scale on the box branch: the reference graph feeds the 3x3
predictor convolutions straight into Transpose/Reshape, so none is modelled here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NUM_ANCHORS = 2  # two anchors per location, one score each (decoding only needs the centre)
NUM_KEYPOINTS = 5


class ConvBNReLU(nn.Module):
    """Named ``conv``/``bn`` children because the checkpoint addresses them by name."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class SeparableConv(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, each with BN and ReLU: the 500M budget's tower unit."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNReLU(in_ch, in_ch, 3, groups=in_ch)
        self.pointwise_conv = ConvBNReLU(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def _flatten(x: Tensor, per_anchor: int) -> Tensor:
    """(B, A*C, H, W) -> (B, H*W*A, C): row-major over the map, anchors innermost.

    This is the layout every SCRFD decoder (and the official export) assumes, so anchor centres
    can be generated independently of the network.
    """
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, per_anchor)


class StrideHead(nn.Module):
    def __init__(self, in_ch: int = 16, feat_ch: int = 64, stacked: int = 2) -> None:
        super().__init__()
        layers = [SeparableConv(in_ch if i == 0 else feat_ch, feat_ch) for i in range(stacked)]
        self.conv_layers = nn.Sequential(*layers)
        self.cls_logits = nn.Conv2d(feat_ch, NUM_ANCHORS, 3, 1, 1)
        self.bb_logits = nn.Conv2d(feat_ch, NUM_ANCHORS * 4, 3, 1, 1)
        self.kp_logits = nn.Conv2d(feat_ch, NUM_ANCHORS * NUM_KEYPOINTS * 2, 3, 1, 1)
        self.kp_values = NUM_KEYPOINTS * 2  # an attribute: TorchScript cannot read module globals

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Scores are sigmoid probabilities; boxes and keypoints stay in stride units."""
        x = self.conv_layers(x)
        scores = torch.sigmoid(_flatten(self.cls_logits(x), 1))
        boxes = _flatten(self.bb_logits(x), 4)
        keypoints = _flatten(self.kp_logits(x), self.kp_values)
        return scores, boxes, keypoints


class SCRFDHead(nn.Module):
    def __init__(self, num_strides: int = 3, in_ch: int = 16, feat_ch: int = 64,
                 stacked: int = 2) -> None:
        super().__init__()
        self.stride_heads = nn.ModuleList(
            StrideHead(in_ch, feat_ch, stacked) for _ in range(num_strides))

    def forward(self, feats: list[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Outputs grouped by kind (all scores, all boxes, all keypoints), finest stride first."""
        scores: list[Tensor] = []
        boxes: list[Tensor] = []
        keypoints: list[Tensor] = []
        for i, head in enumerate(self.stride_heads):
            s, b, k = head(feats[i])
            scores.append(s)
            boxes.append(b)
            keypoints.append(k)
        return scores, boxes, keypoints
