"""Structured channel pruning: channels are physically removed, nothing is masked.

The result is the same module tree with narrower ``Conv2d``/``BatchNorm2d`` children (new
modules holding the kept slices), so it pickles, scripts and exports like the source model and
every engine runs a genuinely smaller network.

What can be pruned together is a ``ChannelGroup``: the conv producing a set of channels, its
BatchNorm, the channel-wise consumers (depthwise conv + BN) that keep the same channels, and the
cross-channel consumers that lose input columns. Which groups a network has is a fact about that
network (SCRFD's: ``compbench.compression.scrfd.channel_groups``); this module only needs the list.

Criterion (``channel_importance``): the signal energy a channel feeds its cross-channel consumers,
var(input_c) * ||W_eff[:, c]||^2, measured on calibration images (``W_eff``: the consumer's
weights scaled by its own BatchNorm, if any). |gamma| of the producer's BN is available too, but
on SCRFD it started the fine-tune from a much worse model (docs/studies/design-measurements.md).

Reconstruction (``_reconstruct_consumer``): the removed channels are not simply dropped. Every
consumer is a linear conv, so the removed inputs are predicted from the kept ones by least squares
on the calibration statistics (x_R ~ A x_K + b) and the prediction is folded into the consumer's
kept weights and bias (or its BN's running mean). This cut the initial damage further
(docs/studies/design-measurements.md).

Kept counts are rounded *up* to a multiple of 8 (SIMD-friendly widths for oneDNN / onnxruntime /
OpenVINO).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm import tqdm

CHANNEL_MULTIPLE = 8
RIDGE = 1e-3        # least-squares damping, relative to the kept channels' mean variance


@dataclass
class ChannelGroup:
    """One independent set of channels: who produces them and who reads them (module paths)."""

    name: str
    producer: str                     # conv whose output channels are pruned
    producer_bn: str
    channelwise: list[tuple[str, str]] = field(default_factory=list)   # (depthwise conv, its BN)
    consumers: list[tuple[str, str | None]] = field(default_factory=list)  # (conv, BN after it)


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


def ratio_for(group: ChannelGroup, ratios: Mapping[str, float]) -> float:
    """The ratio of the first ``fnmatch`` pattern matching the group's name (0 if none)."""
    for pattern, ratio in ratios.items():
        if fnmatch.fnmatchcase(group.name, pattern):
            return ratio
    return 0.0


def prune_groups(model: nn.Module, groups: Sequence[ChannelGroup], ratios: Mapping[str, float],
                 stats: dict[str, ChannelStats] | None = None,
                 criterion: str = "energy") -> dict[str, tuple[int, int]]:
    """Prune ``model`` in place, group by group, ``ratios`` per group name pattern (see
    ``ratio_for``). See ``prune_group`` for what ``stats`` changes. Returns {group: (channels,
    kept)}."""
    widths = {}
    for group in groups:
        widths[group.name] = prune_group(model, group, ratio_for(group, ratios), stats, criterion)
    return widths
