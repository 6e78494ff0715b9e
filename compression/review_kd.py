"""ReviewKD's knowledge-review mechanism (Chen et al., CVPR 2021), independent of any model.

Attention-based fusion (ABF) modules walk the student's feature maps from the coarsest level to
the finest, each one fusing its level with the already-fused deeper levels (a residual, top-down
review path) and projecting to the teacher's channel count; the hierarchical context loss (HCL)
compares every fused map with the teacher's map of the same level. The ``distilled`` recipe
(``compbench.compression.distilled``) applies it to SCRFD's neck.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ABF(nn.Module):
    """Attention-based fusion of one student level with the fused deeper levels.

    ``forward(x, deeper)`` returns ``(out, fused)``: ``fused`` (``mid`` channels) carries on to
    the next finer level, ``out`` (``out_channels``) is compared with the teacher. Two sigmoid
    attention maps, computed from both inputs, weight the level and the upsampled deeper result.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, fuse: bool):
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(in_channels, mid_channels, 1, bias=False),
                                     nn.BatchNorm2d(mid_channels))
        self.attention = nn.Conv2d(2 * mid_channels, 2, 1) if fuse else None
        self.output = nn.Sequential(nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False),
                                    nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor, deeper: Tensor | None = None) -> tuple[Tensor, Tensor]:
        fused = self.project(x)
        if self.attention is not None:
            if deeper is None:
                raise ValueError("a fusing ABF needs the deeper level's fused map")
            deeper = F.interpolate(deeper, size=fused.shape[-2:], mode="nearest")
            weights = torch.sigmoid(self.attention(torch.cat([fused, deeper], dim=1)))
            fused = fused * weights[:, :1] + deeper * weights[:, 1:]
        return self.output(fused), fused


class ReviewFusion(nn.Module):
    """The review path over student levels given finest first: coarsest is fused first."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int],
                 mid_channels: int | None = None):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError("one teacher level per student level")
        mid = mid_channels or max(teacher_channels)
        last = len(student_channels) - 1
        self.abfs = nn.ModuleList(ABF(s, mid, t, fuse=i < last)
                                  for i, (s, t) in enumerate(zip(student_channels,
                                                                 teacher_channels,
                                                                 strict=True)))

    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        outs: list[Tensor] = [feats[0]] * len(feats)
        deeper = None
        for i in range(len(feats) - 1, -1, -1):
            outs[i], deeper = self.abfs[i](feats[i], deeper)
        return outs


def hcl_loss(student: Sequence[Tensor], teacher: Sequence[Tensor],
             pool_sizes: Sequence[int] = (4, 2, 1)) -> Tensor:
    """Hierarchical context loss, summed over levels.

    Per level: MSE of the maps, plus MSE of their ``k x k`` average pools (``k`` in
    ``pool_sizes``, skipped when not smaller than the map) with weights 1/2, 1/4, ...; the
    weighted sum is divided by the total weight. Zero exactly when the maps are equal.
    """
    total = student[0].new_zeros(())
    for fs, ft in zip(student, teacher, strict=True):
        if fs.shape != ft.shape:
            raise ValueError(f"student map {tuple(fs.shape)} vs teacher map {tuple(ft.shape)}")
        level = F.mse_loss(fs, ft)
        weight, weights = 1.0, 1.0
        for k in pool_sizes:
            if k >= min(fs.shape[-2:]):
                continue
            weight /= 2
            level = level + weight * F.mse_loss(F.adaptive_avg_pool2d(fs, k),
                                                F.adaptive_avg_pool2d(ft, k))
            weights += weight
        total = total + level / weights
    return total
