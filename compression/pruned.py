"""``pruned``: structured channel pruning of SCRFD_500M_KPS, then a self-distillation fine-tune.

How channels are removed and the consumers rewritten: ``compbench.compression.channel_pruning``; which
channels belong together in this detector: ``compbench.compression.scrfd.channel_groups``. After pruning,
a self-distillation fine-tune from the fp32 model (BatchNorm statistics frozen: the batches are a
few crops).

Where and how much (the row's ``blocks``, an fnmatch pattern over group names, and ``ratio``):
measured per group on the mini set, the damage is far from uniform
(docs/studies/design-measurements.md). The stride-8 head tower looks cheap by MACs-per-error but
costs the most hard AP (tiny faces live there); the high-resolution stages (stem, layer1-3) are
thin already. layer4 (six 288-channel blocks at 20x20) is the least sensitive per MAC removed,
so only layer4 is pruned. (Chosen on the evaluation images themselves: issue 11 re-selects it on
held-out data.)
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from compbench.compression.base import RecipeContext, build_threads
from compbench.compression.channel_pruning import consumer_input_stats
from compbench.compression.scrfd.channel_groups import prune_scrfd, scrfd_channel_groups
from compbench.compression.scrfd.distillation_loss import scrfd_distillation_loss
from compbench.compression.self_distillation import DistillConfig, self_distill, stack_inputs
from compbench.formats.artifacts import Artifact

STATS_IMAGES = 32   # calibration images used to measure the consumers' input statistics
FINETUNE = DistillConfig(batch_size=4, crop=320, desc="fine-tune pruned")


def pruned(ctx: RecipeContext, *, blocks: str, ratio: float, steps: int, lr: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): which blocks lose channels (a name
    pattern of ``scrfd_channel_groups``), the fraction of their channels removed, and the
    self-distillation fine-tune's steps and peak learning rate."""
    with build_threads():
        torch.manual_seed(ctx.seed)
        teacher = ctx.source_model().eval()
        student = copy.deepcopy(teacher)
        inputs = stack_inputs(ctx.calibration_inputs(), ctx.task.calibration_size,
                              "load calibration images")
        stats = consumer_input_stats(student, scrfd_channel_groups(student),
                                     inputs[:STATS_IMAGES])
        prune_scrfd(student, {blocks: ratio}, stats)
        student.eval()  # BatchNorm keeps its (pruned) running statistics during the fine-tune
        self_distill(student, teacher, inputs,
                     replace(FINETUNE, steps=steps, lr=lr, seed=ctx.seed),
                     loss_fn=scrfd_distillation_loss)
        return ctx.save_torch(student)
