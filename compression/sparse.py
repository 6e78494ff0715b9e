"""``sparse``: global magnitude pruning, a fraction of the conv weights set to exactly zero.

Shapes do not change, so the dense engines run it at fp32 speed; the gain is the artifact's
gzip-compressed size (runs of zero floats compress away), which the suite measures alongside the
raw size.

Which weights: the large pointwise convs only (the row's ``min_weights``: layer3.1 and the six layer4
blocks, 80 % of the conv weights; they run at 40x40 and 20x20 and are the most redundant). Tried
and dropped on the mini set (docs/studies/design-measurements.md): pruning every ungrouped conv
(hard AP fell far even after fine-tuning: the thin early layers, the neck and the predictors
have no slack), and the depthwise convs (2 % of the weights, every tap matters). The stem's
conv never is.

Ranking: one global threshold over those convs on the *BN-folded* magnitude |w| * |gamma| / sigma
(``importance_scores`` of ``torch.nn.utils.prune.global_unstructured``): BN rescales each output
channel arbitrarily, so raw magnitudes are not comparable across layers; the folded ones are what
actually multiplies the activations. Convs without a following BN (none at the default
``min_weights``) are pruned layer-wise to ``unnormalised_sparsity``: a global threshold removed
nearly all of some neck convs, whose scale nothing normalises.

What it achieves (zeros, gzip size): docs/studies/design-measurements.md and docs/results.md.

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

from compbench.compression.base import RecipeContext, build_threads
from compbench.compression.scrfd.distillation_loss import scrfd_distillation_loss
from compbench.compression.self_distillation import DistillConfig, self_distill, stack_inputs
from compbench.formats.artifacts import Artifact

FINETUNE = DistillConfig(batch_size=4, crop=320, desc="fine-tune sparse")


def prunable_convs(model: nn.Module, min_weights: int) -> list[tuple[str, nn.Conv2d]]:
    """Ungrouped convolutions with at least ``min_weights`` weights, never the one reading the
    image (see the module docstring)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and m.groups == 1 and m.in_channels > 3
            and m.weight.numel() >= min_weights]


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


def folded_magnitudes(model: nn.Module,
                      min_weights: int) -> Iterator[tuple[nn.Conv2d, Tensor]]:
    """(conv, |w| * |gamma| / sigma) for the prunable convs that a BatchNorm follows."""
    bns = _following_batchnorms(model)
    for name, conv in prunable_convs(model, min_weights):
        bn = bns.get(name)
        if bn is not None:
            factor = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
            yield conv, conv.weight.detach().abs() * factor.reshape(-1, 1, 1, 1)


def apply_global_sparsity(model: nn.Module, sparsity: float, min_weights: int,
                          unnormalised_sparsity: float | None = None) -> list[nn.Conv2d]:
    """Attach ``torch.nn.utils.prune`` masks zeroing ``sparsity`` of the BN-followed conv weights
    (one global threshold) and ``unnormalised_sparsity`` (default: ``sparsity``) of each other
    prunable conv's weights. Returns the masked convs."""
    other = sparsity if unnormalised_sparsity is None else unnormalised_sparsity
    scored = list(folded_magnitudes(model, min_weights))
    masked = []
    if sparsity > 0:
        prune.global_unstructured([(conv, "weight") for conv, _ in scored],
                                  pruning_method=prune.L1Unstructured, amount=sparsity,
                                  importance_scores={(conv, "weight"): s for conv, s in scored})
        masked += [conv for conv, _ in scored]
    if other > 0:
        normalised = {id(conv) for conv, _ in scored}
        for _, conv in prunable_convs(model, min_weights):
            if id(conv) not in normalised:
                prune.l1_unstructured(conv, "weight", amount=other)
                masked.append(conv)
    return masked


def make_permanent(convs: list[nn.Conv2d]) -> None:
    for conv in convs:
        prune.remove(conv, "weight")


def zero_fraction(model: nn.Module, min_weights: int) -> float:
    """Fraction of exact zeros among the prunable conv weights (``min_weights=0``: all convs but
    the first and the depthwise ones)."""
    weights = [conv.weight.detach() for _, conv in prunable_convs(model, min_weights)]
    return float(sum((w == 0).sum() for w in weights)) / sum(w.numel() for w in weights)


def sparse(ctx: RecipeContext, *, sparsity: float, unnormalised_sparsity: float,
           min_weights: int, steps: int, lr: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): the global sparsity of the BN-followed
    convs, the layer-wise one of the others, the scope (convs with at least ``min_weights``
    weights; 16384 = layer3.1 and layer4's pointwise convs, 80 % of the conv weights) and the
    self-distillation fine-tune's steps and peak learning rate."""
    with build_threads():
        torch.manual_seed(ctx.seed)
        teacher = ctx.source_model().eval()
        student = copy.deepcopy(teacher).eval()   # eval: BatchNorm statistics stay frozen
        convs = apply_global_sparsity(student, sparsity, min_weights, unnormalised_sparsity)
        inputs = stack_inputs(ctx.calibration_inputs(), ctx.task.calibration_size,
                              "load calibration images")
        self_distill(student, teacher, inputs,
                     replace(FINETUNE, steps=steps, lr=lr, seed=ctx.seed),
                     loss_fn=scrfd_distillation_loss)
        make_permanent(convs)
        return ctx.save_torch(student)
