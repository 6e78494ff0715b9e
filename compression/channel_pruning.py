"""Structured channel pruning of SCRFD_500M_KPS: channels are physically removed.

The result is the same ``SCRFD`` module tree with narrower ``Conv2d``/``BatchNorm2d`` children
(new modules holding the kept slices), so it pickles, scripts and exports like the fp32 model
and every engine runs a genuinely smaller network; nothing is masked.

Prunable channel sets ("groups"): the MobileNetV1 backbone has no residual connections, so the
output channels of every pointwise conv (and of the stem's full conv) form an independent set.
Removing channel c of such a producer removes
  - row c of the producer conv and of its BatchNorm,
  - channel c of the next block's depthwise conv and BatchNorm (channel-wise consumers),
  - input column c of the next block's pointwise conv, and, for the last block of layer2/3/4,
    input column c of the neck's lateral 1x1 conv (cross-channel consumers).
In the head, each stride's tower has two such sets: the first separable conv's pointwise output
(consumed by the second's depthwise + pointwise) and the second's pointwise output (consumed by
the score / box / keypoint predictor convs). The 16-channel neck is left alone (it is tiny and
every level of it is summed with another, which would tie the sets together).

Criterion (``channel_importance``): the signal energy a channel feeds its cross-channel consumers,
var(input_c) * ||W_eff[:, c]||^2, measured on calibration images (``W_eff``: the consumer's
weights scaled by its own BatchNorm, if any). |gamma| of the producer's BN is available too, but
on SCRFD it started the fine-tune from a much worse model (distance to fp32 0.55 vs 0.24 for the
head at 40 %).

Reconstruction (``_reconstruct_consumer``): the removed channels are not simply dropped. Every
consumer is a linear conv, so the removed inputs are predicted from the kept ones by least squares
on the calibration statistics (x_R ~ A x_K + b) and the prediction is folded into the consumer's
kept weights and bias (or its BN's running mean). This halved the initial damage again.

Then a self-distillation fine-tune from the fp32 model (BatchNorm statistics frozen: the batches
are a few crops).

Where and how much (``RATIOS``, fnmatch patterns over group names): measured per group on the
mini set, the damage is far from uniform. The stride-8 head tower looks cheap by MACs-per-error
but costs 11 points of hard AP at 50 % (tiny faces live there); the high-resolution stages
(stem, layer1-3) are thin already. layer4 (six 288-channel blocks at 20x20) is the least sensitive
per MAC removed, so only layer4 is pruned. Kept counts are rounded *up* to a multiple of 8
(SIMD-friendly widths for oneDNN / onnxruntime / OpenVINO).
"""

from __future__ import annotations

import copy
import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn
from tqdm import tqdm

from compression.base import RecipeContext
from compression.self_distillation import (
    BUILD_THREADS,
    DistillConfig,
    self_distill,
    stack_inputs,
)
from formats.artifacts import Artifact

RATIOS = {"backbone.layer4.*": 0.375}   # 288 -> 184 channels in all six layer4 blocks
CHANNEL_MULTIPLE = 8
RIDGE = 1e-3        # least-squares damping, relative to the kept channels' mean variance
STATS_IMAGES = 32   # calibration images used to measure the consumers' input statistics
FINETUNE = DistillConfig(steps=500, batch_size=4, crop=320, lr=5e-5, desc="fine-tune pruned")


@dataclass
class ChannelGroup:
    """One independent set of channels: who produces them and who reads them (module paths)."""

    name: str
    producer: str                     # conv whose output channels are pruned
    producer_bn: str
    channelwise: list[tuple[str, str]] = field(default_factory=list)   # (depthwise conv, its BN)
    consumers: list[tuple[str, str | None]] = field(default_factory=list)  # (conv, BN after it)


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


def _get(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    """Replace the module at ``path``; the new one inherits the old one's train/eval mode."""
    parent, _, name = path.rpartition(".")
    module.train(model.get_submodule(path).training)
    setattr(model.get_submodule(parent) if parent else model, name, module)


def _conv_like(conv: nn.Conv2d, in_channels: int, out_channels: int, groups: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, groups, conv.bias is not None, conv.padding_mode)


def _select_outputs(conv: nn.Conv2d, keep: Tensor) -> nn.Conv2d:
    """Keep output channels ``keep`` (a depthwise conv keeps the same input channels too)."""
    depthwise = conv.groups > 1
    if depthwise and conv.groups != conv.in_channels:
        raise ValueError("only plain or fully depthwise convolutions can be pruned")
    count = len(keep)
    new = _conv_like(conv, count if depthwise else conv.in_channels, count,
                     count if depthwise else 1)
    with torch.no_grad():
        new.weight.copy_(conv.weight[keep])
        if conv.bias is not None:
            new.bias.copy_(conv.bias[keep])
    return new


def _select_inputs(conv: nn.Conv2d, keep: Tensor) -> nn.Conv2d:
    if conv.groups != 1:
        raise ValueError("a cross-channel consumer must be an ungrouped convolution")
    new = _conv_like(conv, len(keep), conv.out_channels, 1)
    with torch.no_grad():
        new.weight.copy_(conv.weight[:, keep])
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _select_bn(bn: nn.BatchNorm2d, keep: Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(keep), bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    with torch.no_grad():
        if bn.affine:
            new.weight.copy_(bn.weight[keep])
            new.bias.copy_(bn.bias[keep])
        if bn.track_running_stats:
            new.running_mean.copy_(bn.running_mean[keep])
            new.running_var.copy_(bn.running_var[keep])
            new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def kept_count(channels: int, ratio: float, multiple: int = CHANNEL_MULTIPLE) -> int:
    """Channels left after removing ``ratio`` of them, rounded up to ``multiple``."""
    wanted = channels * (1.0 - ratio)
    return min(channels, max(multiple, math.ceil(wanted / multiple) * multiple))


@dataclass
class ChannelStats:
    """First and second moments of a consumer conv's input channels over calibration images."""

    mean: Tensor   # (C,) float64
    cov: Tensor    # (C, C) float64, covariance across images and pixels

    @property
    def var(self) -> Tensor:
        return torch.diagonal(self.cov).clamp(min=0)


def consumer_input_stats(model: nn.Module, groups: Sequence[ChannelGroup], inputs: Tensor,
                         desc: str = "measure channel statistics") -> dict[str, ChannelStats]:
    """Input statistics of every cross-channel consumer, over ``inputs`` (N, C, H, W)."""
    paths = sorted({conv for group in groups for conv, _ in group.consumers})
    sums: dict[str, list[Tensor]] = {}
    handles = []

    def recorder(path: str):
        def hook(_module, args):
            x = args[0].detach().double().transpose(0, 1).reshape(args[0].shape[1], -1)
            moments = [x.sum(dim=1), x @ x.T, torch.tensor(float(x.shape[1]), dtype=x.dtype)]
            previous = sums.get(path)
            if previous is not None:
                moments = [a + b for a, b in zip(previous, moments, strict=True)]
            sums[path] = moments
        return hook

    for path in paths:
        handles.append(_get(model, path).register_forward_pre_hook(recorder(path)))
    try:
        with torch.no_grad():
            for index in tqdm(range(len(inputs)), desc=desc, unit="img"):
                model(inputs[index:index + 1].float())
    finally:
        for handle in handles:
            handle.remove()
    stats = {}
    for path, (first, second, count) in sums.items():
        mean = first / count
        stats[path] = ChannelStats(mean, second / count - torch.outer(mean, mean))
    return stats


def channel_importance(model: nn.Module, group: ChannelGroup,
                       stats: dict[str, ChannelStats] | None, criterion: str = "energy") -> Tensor:
    """Higher = more important. ``"gamma"`` (or no statistics): |gamma| of the producer's BN.

    ``"energy"``: the signal energy each channel feeds its cross-channel consumers,
    ``var(input_c) * ||W_eff[:, c]||^2`` (``W_eff`` = consumer weights scaled by the consumer's BN,
    if any, i.e. measured where the consumer's output is normalised). The removed channels' mean
    is folded into the consumer, so their variance is exactly what pruning loses. Each consumer's
    shares are normalised to sum to 1 before adding them up.
    """
    if stats is None or criterion == "gamma":
        return _get(model, group.producer_bn).weight.detach().abs()
    if criterion != "energy":
        raise ValueError(f"unknown criterion {criterion!r} (use 'energy' or 'gamma')")
    total = None
    for conv_path, bn_path in group.consumers:
        weight = _get(model, conv_path).weight.detach()
        if bn_path is not None:
            bn = _get(model, bn_path)
            weight = weight * (bn.weight.detach().abs()
                               / torch.sqrt(bn.running_var + bn.eps)).reshape(-1, 1, 1, 1)
        energy = weight.pow(2).sum(dim=(0, 2, 3)) * stats[conv_path].var.float()
        share = energy / energy.sum().clamp(min=1e-12)
        total = share if total is None else total + share
    return total


def _reconstruct_consumer(model: nn.Module, conv_path: str, bn_path: str | None, keep: Tensor,
                          removed: Tensor, stats: ChannelStats) -> None:
    """Rewrite the consumer so it best reproduces its original output from the kept inputs.

    The removed inputs are predicted from the kept ones by least squares over the calibration
    statistics, ``x_R ~ A x_K + b`` with ``A = S_RK S_KK^-1`` and ``b = mu_R - A mu_K``, and that
    prediction is substituted into the conv, which stays linear: the kept weights become
    ``W_K + W_R A`` (per kernel tap) and ``W_R b`` moves into the bias, or into the running mean of
    the BatchNorm after a bias-free conv. With no correlation (``A = 0``) this is plain mean
    folding; ridge damping keeps ``S_KK`` well conditioned.
    """
    conv = _get(model, conv_path)
    cov, mean = stats.cov, stats.mean
    cov_kk = cov[keep][:, keep]
    damping = RIDGE * torch.diagonal(cov_kk).mean().clamp(min=1e-12)
    cov_kk = cov_kk + damping * torch.eye(len(keep), dtype=cov.dtype)
    a = torch.linalg.solve(cov_kk, cov[keep][:, removed]).T      # (removed, kept)
    b = mean[removed] - a @ mean[keep]                             # (removed,)
    with torch.no_grad():
        weight = conv.weight.detach().double()
        w_removed = weight[:, removed]                              # (out, R, kh, kw)
        conv.weight[:, keep] += torch.einsum("orhw,rk->okhw", w_removed, a).to(conv.weight.dtype)
        shift = torch.einsum("orhw,r->o", w_removed, b).to(conv.weight.dtype)
        if conv.bias is not None:
            conv.bias.add_(shift)
        elif bn_path is not None:
            # the conv output lost ``shift``; moving the BN's mean by as much restores its output
            _get(model, bn_path).running_mean.sub_(shift)
        else:
            raise ValueError(f"{conv_path} has neither a bias nor a BatchNorm to absorb the shift")


def prune_group(model: nn.Module, group: ChannelGroup, ratio: float,
                stats: dict[str, ChannelStats] | None = None,
                criterion: str = "energy") -> tuple[int, int]:
    """Remove ``ratio`` of the group's channels, least important first; returns (before, after).

    ``stats`` (``consumer_input_stats``) selects the energy criterion and enables mean folding;
    without them the criterion is |gamma| and removed channels are simply dropped.
    """
    bn = _get(model, group.producer_bn)
    channels = bn.num_features
    count = kept_count(channels, ratio)
    if count >= channels:
        return channels, channels
    importance = channel_importance(model, group, stats, criterion)
    order = torch.argsort(importance, descending=True, stable=True)
    keep = torch.sort(order[:count]).values
    removed = torch.sort(order[count:]).values
    for conv_path, bn_path in group.consumers:
        if stats is not None:
            _reconstruct_consumer(model, conv_path, bn_path, keep, removed, stats[conv_path])
        _set(model, conv_path, _select_inputs(_get(model, conv_path), keep))
    for conv_path, bn_path in group.channelwise:
        _set(model, conv_path, _select_outputs(_get(model, conv_path), keep))
        _set(model, bn_path, _select_bn(_get(model, bn_path), keep))
    _set(model, group.producer, _select_outputs(_get(model, group.producer), keep))
    _set(model, group.producer_bn, _select_bn(bn, keep))
    return channels, count


def uniform_ratios(backbone: float, head: float) -> dict[str, float]:
    return {"backbone.*": backbone, "bbox_head.*": head}


def ratio_for(group: ChannelGroup, ratios: Mapping[str, float]) -> float:
    """The ratio of the first ``fnmatch`` pattern matching the group's name (0 if none)."""
    for pattern, ratio in ratios.items():
        if fnmatch.fnmatchcase(group.name, pattern):
            return ratio
    return 0.0


def prune_scrfd(model: nn.Module, ratios: Mapping[str, float],
                stats: dict[str, ChannelStats] | None = None,
                criterion: str = "energy") -> dict[str, tuple[int, int]]:
    """Prune ``model`` in place, ``ratios`` per group name pattern (see ``ratio_for``).

    See ``prune_group`` for what ``stats`` changes. Returns {group: (channels, kept)}.
    """
    widths = {}
    for group in scrfd_channel_groups(model):
        widths[group.name] = prune_group(model, group, ratio_for(group, ratios), stats, criterion)
    return widths


def pruned(ctx: RecipeContext) -> Artifact:
    torch.set_num_threads(BUILD_THREADS)
    torch.manual_seed(ctx.seed)
    teacher = ctx.source_model().eval()
    student = copy.deepcopy(teacher)
    inputs = stack_inputs(ctx.calibration_inputs(), ctx.task.calibration_size,
                          "load calibration images")
    stats = consumer_input_stats(student, scrfd_channel_groups(student), inputs[:STATS_IMAGES])
    prune_scrfd(student, RATIOS, stats)
    student.eval()  # BatchNorm keeps its (pruned) running statistics during the fine-tune
    self_distill(student, teacher, inputs, replace(FINETUNE, seed=ctx.seed))
    return ctx.save_torch(student)
