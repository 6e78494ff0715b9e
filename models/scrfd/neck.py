"""PAFPN neck: FPN top-down pass, then a bottom-up path-aggregation pass.

Every convolution here is a bare conv with bias: the reference graph has no BN and no activation
anywhere in the neck. Top-down merging upsamples with nearest-neighbour *to the size of the finer
map* (not by a fixed factor of 2), which keeps odd feature sizes aligned; it is what the official
ONNX export does (Resize, nearest, asymmetric, floor).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def _conv3x3(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1)


class PAFPN(nn.Module):
    """Maps the backbone's (C3, C4, C5) to three maps of ``channels`` channels at strides 8/16/32.

    The finest output skips its PAFPN conv: path aggregation starts from it, so only the two
    coarser levels get a ``pafpn_convs`` refinement (hence two of those and two downsamplers).
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 16) -> None:
        super().__init__()
        levels = len(in_channels)
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(_conv3x3(channels, 1) for _ in range(levels))
        self.downsample_convs = nn.ModuleList(_conv3x3(channels, 2) for _ in range(levels - 1))
        self.pafpn_convs = nn.ModuleList(_conv3x3(channels, 1) for _ in range(levels - 1))

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        laterals: list[Tensor] = []
        for i, conv in enumerate(self.lateral_convs):
            laterals.append(conv(feats[i]))

        # Top-down: coarse semantics flow into finer levels.
        for i in range(len(laterals) - 1, 0, -1):
            finer = laterals[i - 1]
            up = F.interpolate(laterals[i], size=finer.shape[-2:], mode="nearest")
            laterals[i - 1] = finer + up

        inter: list[Tensor] = []
        for i, conv in enumerate(self.fpn_convs):
            inter.append(conv(laterals[i]))

        # Bottom-up: precise localisation flows back into coarser levels.
        for i, down in enumerate(self.downsample_convs):
            inter[i + 1] = inter[i + 1] + down(inter[i])

        outs = [inter[0]]
        for i, conv in enumerate(self.pafpn_convs):
            outs.append(conv(inter[i + 1]))
        return outs
