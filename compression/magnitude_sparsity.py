"""Unstructured global magnitude pruning: a fraction of the conv weights set to exactly zero.

Shapes do not change, so the dense engines run it at fp32 speed; the gain is the artifact's
gzip-compressed size (runs of zero floats compress away), which the suite measures alongside the
raw size.

Which weights: all ungrouped convolutions except the stem's first conv (pointwise convs, the
neck, the head's predictors). Depthwise convs are skipped: they hold ~2 % of the weights but every
one of their 9 taps per channel matters, so zeroing them costs accuracy for no size gain; the first
conv (432 weights) sees the raw image and is as sensitive as it is small.

Ranking, in two pools:
- Convs followed by BatchNorm (the backbone's and head towers' pointwise convs, ~88 % of the
  weights): one global threshold on the *BN-folded* magnitude |w| * |gamma| / sigma. BN rescales
  each output channel arbitrarily, so raw magnitudes are not comparable across layers; the folded
  ones are what actually multiplies the activations (``importance_scores`` of
  ``torch.nn.utils.prune.global_unstructured``). The threshold lands mostly in layer4, whose
  288x288 pointwise convs at 20x20 resolution are the most redundant.
- Convs without BN (the neck and the score/box/keypoint predictors): nothing normalises their
  scale against the others (a global threshold removed 95-100 % of some neck convs), so each is
  pruned layer-wise to ``SPARSITY``.

Then a short self-distillation fine-tune with the masks still attached (pruned weights stay zero,
the survivors compensate), and ``prune.remove`` makes the zeros permanent plain weights.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from compbench.artifacts import Artifact
from compression.base import RecipeContext
from compression.self_distillation import BUILD_THREADS, DistillConfig, self_distill, stack_inputs

SPARSITY = 0.6
FINETUNE = DistillConfig(steps=120, batch_size=4, crop=320, lr=1e-4, desc="fine-tune sparse")


def prunable_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Ungrouped convolutions but the one reading the image (see the module docstring)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and m.groups == 1 and m.in_channels > 3]


def _following_batchnorms(model: nn.Module) -> dict[str, nn.BatchNorm2d]:
    """conv name -> the BatchNorm that directly normalises its output (SCRFD's naming)."""
    modules = dict(model.named_modules())
    found = {}
    for name, module in modules.items():
        if not isinstance(module, nn.Conv2d):
            continue
        parent, _, leaf = name.rpartition(".")
        if leaf == "conv":                       # head: ConvBNReLU.conv -> .bn
            candidate = f"{parent}.bn"
        elif leaf.isdigit():                     # backbone Sequential: index i -> i + 1
            candidate = f"{parent}.{int(leaf) + 1}"
        else:
            continue
        if isinstance(modules.get(candidate), nn.BatchNorm2d):
            found[name] = modules[candidate]
    return found


def folded_magnitudes(model: nn.Module) -> Iterator[tuple[nn.Conv2d, Tensor]]:
    """(conv, |w| * |gamma| / sigma) for the prunable convs that a BatchNorm follows."""
    bns = _following_batchnorms(model)
    for name, conv in prunable_convs(model):
        bn = bns.get(name)
        if bn is not None:
            factor = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
            yield conv, conv.weight.detach().abs() * factor.reshape(-1, 1, 1, 1)


def apply_global_sparsity(model: nn.Module, sparsity: float) -> list[nn.Conv2d]:
    """Attach ``torch.nn.utils.prune`` masks zeroing ``sparsity`` of the prunable conv weights."""
    scored = list(folded_magnitudes(model))
    if sparsity <= 0:
        return []
    prune.global_unstructured([(conv, "weight") for conv, _ in scored],
                              pruning_method=prune.L1Unstructured, amount=sparsity,
                              importance_scores={(conv, "weight"): s for conv, s in scored})
    normalised = {id(conv) for conv, _ in scored}
    others = [conv for _, conv in prunable_convs(model) if id(conv) not in normalised]
    for conv in others:
        prune.l1_unstructured(conv, "weight", amount=sparsity)
    return [conv for conv, _ in scored] + others


def make_permanent(convs: list[nn.Conv2d]) -> None:
    for conv in convs:
        prune.remove(conv, "weight")


def zero_fraction(model: nn.Module) -> float:
    """Fraction of exact zeros among the prunable conv weights."""
    weights = [conv.weight.detach() for _, conv in prunable_convs(model)]
    return float(sum((w == 0).sum() for w in weights)) / sum(w.numel() for w in weights)


def sparse(ctx: RecipeContext) -> Artifact:
    torch.set_num_threads(BUILD_THREADS)
    torch.manual_seed(ctx.seed)
    teacher = ctx.source_model().eval()
    student = copy.deepcopy(teacher).eval()   # eval: BatchNorm statistics stay frozen
    convs = apply_global_sparsity(student, SPARSITY)
    inputs = stack_inputs(ctx.calibration_inputs(), ctx.task.calibration_size,
                          "load calibration images")
    self_distill(student, teacher, inputs, replace(FINETUNE, seed=ctx.seed))
    make_permanent(convs)
    return ctx.save_torch(student)
