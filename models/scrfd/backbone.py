"""MobileNetV1-style backbone of SCRFD_500M_KPS.

The module tree mirrors the checkpoint (``stem.{0,1}``, ``layer{1..4}.<block>.{0,1,3,4}``) so the
published state dict loads with ``strict=True``: plain ``nn.Sequential`` containers keep the
numeric indices, with the parameter-free ReLUs sitting at indices 2 and 5.
"""

from __future__ import annotations

from torch import Tensor, nn

# Output channels of the two stem parts, then of each stage; blocks per stage (layer1..layer4).
STEM_PLANES = (16, 16)
STAGE_PLANES = (40, 72, 152, 288)
STAGE_BLOCKS = (2, 3, 2, 6)
# Channels of the three maps handed to the neck (layer2..layer4).
OUT_CHANNELS = STAGE_PLANES[1:]


def conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    """Full 3x3 conv: only the first layer, where 3 input channels make depthwise moot."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def depthwise_separable(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 (carries the stride) then pointwise 1x1, each followed by BN and ReLU.

    One flat Sequential, not two nested ones, because the checkpoint indexes the six children
    directly (0 dw conv, 1 bn, 3 pw conv, 4 bn).
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, stride, 1, groups=in_ch, bias=False),
        nn.BatchNorm2d(in_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_ch, out_ch, 1, 1, 0, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def make_stage(in_ch: int, out_ch: int, blocks: int) -> nn.Sequential:
    """A stage halves the resolution in its first block and keeps it in the others."""
    layers = [depthwise_separable(in_ch, out_ch, 2)]
    layers += [depthwise_separable(out_ch, out_ch, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class MobileNetV1Backbone(nn.Module):
    """Returns the stride 8, 16 and 32 feature maps (72, 152 and 288 channels).

    layer1 (stride 4) is computed but not returned: the neck only consumes the last three stages.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn_relu(3, STEM_PLANES[0], 2),
            depthwise_separable(STEM_PLANES[0], STEM_PLANES[1], 1),
        )
        in_ch = STEM_PLANES[1]
        stages = []
        for out_ch, blocks in zip(STAGE_PLANES, STAGE_BLOCKS, strict=True):
            stages.append(make_stage(in_ch, out_ch, blocks))
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.layer1(self.stem(x))
        c3 = self.layer2(x)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c3, c4, c5

