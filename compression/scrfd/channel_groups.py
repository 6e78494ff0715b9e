"""SCRFD_500M_KPS's prunable channel sets, for ``compbench.compression.channel_pruning``.

The MobileNetV1 backbone has no residual connections, so the output channels of every pointwise
conv (and of the stem's full conv) form an independent set. Removing channel c of such a producer
removes
  - row c of the producer conv and of its BatchNorm,
  - channel c of the next block's depthwise conv and BatchNorm (channel-wise consumers),
  - input column c of the next block's pointwise conv, and, for the last block of layer2/3/4,
    input column c of the neck's lateral 1x1 conv (cross-channel consumers).
In the head, each stride's tower has two such sets: the first separable conv's pointwise output
(consumed by the second's depthwise + pointwise) and the second's pointwise output (consumed by
the score / box / keypoint predictor convs). The 16-channel neck is left alone (it is tiny and
every level of it is summed with another, which would tie the sets together).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from compbench.compression.channel_pruning import ChannelGroup, ChannelStats, prune_groups


def _backbone_blocks(model: nn.Module) -> list[tuple[str, bool]]:
    """(path, ends a stage feeding the neck) for the stem's and stages' blocks, in order."""
    blocks = [("backbone.stem.0", False), ("backbone.stem.1", False)]
    backbone = model.backbone
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        count = len(getattr(backbone, stage))
        blocks += [(f"backbone.{stage}.{i}", False) for i in range(count)]
        if stage != "layer1":
            blocks[-1] = (blocks[-1][0], True)
    return blocks


def scrfd_channel_groups(model: nn.Module) -> list[ChannelGroup]:
    """Every prunable set of the detector, backbone first, in network order."""
    groups = []
    blocks = _backbone_blocks(model)
    level = 0
    for index, (block, feeds_neck) in enumerate(blocks):
        conv_index = 0 if block == "backbone.stem.0" else 3   # full conv vs pointwise conv
        group = ChannelGroup(block, f"{block}.{conv_index}", f"{block}.{conv_index + 1}")
        if index + 1 < len(blocks):
            following = blocks[index + 1][0]
            group.channelwise.append((f"{following}.0", f"{following}.1"))
            group.consumers.append((f"{following}.3", f"{following}.4"))
        if feeds_neck:
            group.consumers.append((f"neck.lateral_convs.{level}", None))
            level += 1
        groups.append(group)
    for s in range(len(model.bbox_head.stride_heads)):
        head = f"bbox_head.stride_heads.{s}"
        tower = f"{head}.conv_layers"
        for i in range(len(model.bbox_head.stride_heads[s].conv_layers)):
            group = ChannelGroup(f"{tower}.{i}", f"{tower}.{i}.pointwise_conv.conv",
                                 f"{tower}.{i}.pointwise_conv.bn")
            if i + 1 < len(model.bbox_head.stride_heads[s].conv_layers):
                group.channelwise.append((f"{tower}.{i + 1}.depthwise_conv.conv",
                                          f"{tower}.{i + 1}.depthwise_conv.bn"))
                group.consumers.append((f"{tower}.{i + 1}.pointwise_conv.conv",
                                        f"{tower}.{i + 1}.pointwise_conv.bn"))
            else:
                group.consumers += [(f"{head}.{name}", None)
                                    for name in ("cls_logits", "bb_logits", "kp_logits")]
            groups.append(group)
    return groups


def uniform_ratios(backbone: float, head: float) -> dict[str, float]:
    """One ratio for every backbone group and one for every head group."""
    return {"backbone.*": backbone, "bbox_head.*": head}


def prune_scrfd(model: nn.Module, ratios: Mapping[str, float],
                stats: dict[str, ChannelStats] | None = None,
                criterion: str = "energy") -> dict[str, tuple[int, int]]:
    """Prune ``model`` in place, ``ratios`` per group name pattern (see ``ratio_for``).

    See ``prune_group`` for what ``stats`` changes. Returns {group: (channels, kept)}.
    """
    return prune_groups(model, scrfd_channel_groups(model), ratios, stats, criterion)
