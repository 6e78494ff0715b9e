"""CIFAR ResNet-20 (He et al. 2016, section 4.2) matching the pytorch_resnet_cifar10 checkpoint.

The published checkpoint uses the parameter-free "option A" shortcut: when a stage halves the
resolution and doubles the width, the identity path is subsampled 2× and zero-padded in channels.
It has no weights, so the state dict only fits a model that reproduces exactly that shortcut;
module names (``conv1``, ``bn1``, ``layer{1,2,3}.{0,1,2}``, ``linear``) mirror the checkpoint keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from compbench.errors import AssetCorrupt, AssetMissing

# The checkpoint was trained with ImageNet statistics, not CIFAR ones.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
STAGE_WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = 3  # 6n+2 layers with n=3 → 20


class PadShortcut(nn.Module):
    """Option-A shortcut: stride-2 subsampling plus symmetric zero channels, no parameters."""

    def __init__(self, extra_channels: int):
        super().__init__()
        self.pad = extra_channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        changes_shape = stride != 1 or in_planes != planes
        self.shortcut: nn.Module = PadShortcut(planes - in_planes) if changes_shape else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, STAGE_WIDTHS[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0])
        in_planes = STAGE_WIDTHS[0]
        stages = []
        for index, planes in enumerate(STAGE_WIDTHS):
            blocks = []
            for block in range(BLOCKS_PER_STAGE):
                stride = 2 if index > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(STAGE_WIDTHS[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)


def load_resnet20(path: Path | str) -> ResNet20:
    """The checkpoint at ``path`` in eval mode; an unreadable or mismatched file is AssetCorrupt.

    A silently partial load would look like a compression regression, hence strict loading.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetMissing(f"ResNet-20 checkpoint not found: {path}. Get resnet20-12fca82f.th from "
                           "the pytorch_resnet_cifar10 releases.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many unrelated types for a damaged file
        raise AssetCorrupt(f"cannot read ResNet-20 checkpoint {path}: {exc}. "
                           "Replace it with a fresh copy.") from exc
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise AssetCorrupt(f"{path} is not a ResNet-20 checkpoint (no state_dict).")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    model = ResNet20()
    expected = set(model.state_dict())
    # Checkpoints from old torch versions lack BatchNorm's num_batches_tracked; it is unused in eval.
    missing = {key for key in expected - set(state) if not key.endswith("num_batches_tracked")}
    unexpected = set(state) - expected
    if missing or unexpected:
        raise AssetCorrupt(f"{path} does not match ResNet-20: missing {sorted(missing)[:3]}, "
                           f"unexpected {sorted(unexpected)[:3]}.")
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch
        raise AssetCorrupt(f"{path} does not match ResNet-20: {exc}") from exc
    return model.eval()


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 RGB → float32 N×3×H×W normalised the way the checkpoint was trained."""
    batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((batch - mean) / std).contiguous()
