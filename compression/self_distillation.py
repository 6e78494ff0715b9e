"""Label-free self-distillation: a student learns to reproduce a frozen teacher's raw outputs.

Shared by the recipes that fine-tune after a lossy change (QAT's fake quantization, channel
pruning, masked sparsity): the teacher is the fp32 reference, the data the calibration images, so
no labels and no evaluation image are ever involved.

The loop is generic over callables: ``student`` is any ``nn.Module`` whose outputs line up with
``teacher``'s (any callable; it is run under ``no_grad``), the loss is any function of the two
output sequences (``scrfd_distillation_loss`` by default) and ``on_step`` lets a caller act at given
steps (QAT freezes its observers there). The caller chooses the student's mode beforehand
(``eval()`` keeps BatchNorm statistics frozen while gradients still flow).

Each step draws a batch of random square crops (and horizontal flips) of the calibration inputs
and runs the teacher on exactly those crops. The detector is fully convolutional, so crops are
valid inputs; they are four times cheaper than full 640x640 inputs at 320x320 and turn 102
images into a far larger set of distinct training examples. The order of images, the crop offsets
and the flips all come from one seeded generator, so a rebuild repeats the same run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

Outputs = Sequence[Tensor]
LossFn = Callable[[Outputs, Outputs], Tensor]

# One thread: training steps this small gain nothing from a second thread on a shared 2-core
# machine (0.29 s/step on one, 0.60 on two while another job ran), so builds pin one thread
# and run two at a time (runner/prebuild.py); pinned, a build computes the same bits
# wherever it runs.
BUILD_THREADS = 1


@dataclass(frozen=True)
class LossWeights:
    """Relative weights of the three SCRFD output kinds, and which anchors count.

    An anchor counts when its score exceeds ``floor``, fully from ``floor + ramp`` on (then in
    proportion to its score, see ``scrfd_distillation_loss``). The detector drops scores below
    0.02 before NMS, so anchors well below that never reach the evaluation.
    """

    score: float = 1.0
    box: float = 1.0
    keypoints: float = 0.1     # WIDER AP ignores keypoints; a small weight keeps them sane
    floor: float = 0.002
    ramp: float = 0.01
    by_score: bool = True      # weight relevant anchors by their score (else all equally)


def _logit(p: Tensor, eps: float = 1e-4) -> Tensor:
    p = p.clamp(eps, 1.0 - eps)
    return torch.log(p) - torch.log1p(-p)


def scrfd_distillation_loss(student: Outputs, teacher: Outputs,
                            weights: LossWeights = LossWeights()) -> Tensor:
    """Distance between two sets of the nine SCRFD outputs (scores, boxes, keypoints x 3 strides).

    Scores are compared as logits (smooth L1), not probabilities: WIDER's hard set is made of
    small faces scored 0.02-0.3, whose ranking a probability-space loss barely sees (a 0.05 vs 0.02
    disagreement is a 0.03 error in probability but a full unit in logit). Boxes and keypoints:
    L1 on the distances (stride units).

    Which anchors count: those whose score (the larger of teacher's and student's, for the score
    term; the teacher's for boxes) clears ``LossWeights.floor``, each weighted by that score. The
    score weighting matters: thousands of background anchors sit at 0.02-0.1 for every real face
    scored 0.5+, and with equal weights a pruned student learned to match that background while
    staying a full logit under-confident on the faces themselves, which is what AP measures.

    Each term is a weighted mean over one stride's anchors, and the three strides weigh the same
    (stride 8 has 16x the anchors of stride 32, which would otherwise leave the large faces little
    say), so the loss does not depend on the crop size or on how many faces a batch holds.
    """
    total = student[0].new_zeros(())
    for level in range(3):
        p_s, p_t = student[level], teacher[level]
        relevant = torch.maximum(p_t, p_s.detach())
        w_score = ((relevant - weights.floor) / weights.ramp).clamp(0.0, 1.0)
        w_teacher = ((p_t - weights.floor) / weights.ramp).clamp(0.0, 1.0)
        if weights.by_score:
            w_score = w_score * relevant
            w_teacher = w_teacher * p_t
        score_error = F.smooth_l1_loss(_logit(p_s), _logit(p_t), reduction="none", beta=1.0)
        box_error = (student[3 + level] - teacher[3 + level]).abs().mean(-1, keepdim=True)
        kps_error = (student[6 + level] - teacher[6 + level]).abs().mean(-1, keepdim=True)
        box_den = w_teacher.sum().clamp(min=0.1)
        total = total + (weights.score * (w_score * score_error).sum() / w_score.sum().clamp(min=0.1)
                         + weights.box * (w_teacher * box_error).sum() / box_den
                         + weights.keypoints * (w_teacher * kps_error).sum() / box_den)
    return total / 3


@dataclass(frozen=True)
class DistillConfig:
    steps: int = 300
    batch_size: int = 4
    crop: int | None = 320       # side of the random square crops; None trains on whole inputs
    flip: bool = True            # random horizontal flips (the teacher sees the same flip)
    lr: float = 1e-4
    min_lr_ratio: float = 0.05   # cosine decay from lr down to lr * min_lr_ratio
    warmup_steps: int = 10
    weight_decay: float = 0.0
    optimizer: str = "adam"      # "adam" | "sgd"
    max_grad_norm: float | None = 10.0
    seed: int = 0
    desc: str = "self-distillation"


def stack_inputs(inputs: Iterable[np.ndarray | Tensor], total: int | None = None,
                 desc: str = "load inputs") -> Tensor:
    """(N, C, H, W) float16 tensor of the given 1xCxHxW blobs.

    float16 halves the memory of a hundred 640x640 blobs; our letterboxed blobs are
    (pixel - 127.5) / 128, which float16 represents exactly.
    """
    blobs = [torch.as_tensor(np.asarray(blob)).reshape(-1, *np.shape(blob)[-3:]).to(torch.float16)
             for blob in tqdm(inputs, total=total, desc=desc, unit="img")]
    return torch.cat(blobs)


class CropSampler:
    """Deterministic batches of random crops/flips over a fixed set of inputs."""

    def __init__(self, inputs: Tensor, batch_size: int, crop: int | None, flip: bool, seed: int):
        self.inputs = inputs
        self.batch_size = batch_size
        self.crop = crop
        self.flip = flip
        self.generator = torch.Generator().manual_seed(seed)
        self._order: list[int] = []

    def _next_index(self) -> int:
        if not self._order:  # a fresh permutation per epoch: every image once before repeating
            self._order = torch.randperm(len(self.inputs), generator=self.generator).tolist()
        return self._order.pop()

    def _random(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def batch(self) -> Tensor:
        samples = []
        height, width = self.inputs.shape[-2:]
        for _ in range(self.batch_size):
            sample = self.inputs[self._next_index()]
            if self.crop is not None and self.crop < min(height, width):
                top = self._random(height - self.crop + 1)
                left = self._random(width - self.crop + 1)
                sample = sample[:, top:top + self.crop, left:left + self.crop]
            if self.flip and self._random(2):
                sample = sample.flip(-1)
            samples.append(sample)
        return torch.stack(samples).float()


def _lr_factor(step: int, config: DistillConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


def _optimizer(params: list[Tensor], config: DistillConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r} (use 'adam' or 'sgd')")


def self_distill(student: nn.Module, teacher: Callable[[Tensor], Outputs], inputs: Tensor,
                 config: DistillConfig = DistillConfig(), *, loss_fn: LossFn = scrfd_distillation_loss,
                 params: Iterable[Tensor] | None = None,
                 on_step: Callable[[int], None] | None = None) -> list[float]:
    """Train ``student`` for ``config.steps`` steps to match ``teacher``; returns the step losses.

    ``inputs`` is an (N, C, H, W) tensor (see ``stack_inputs``). ``params`` defaults to the
    student's trainable parameters. ``on_step(step)`` runs before each step (0-based).
    """
    torch.manual_seed(config.seed)
    trainable = [p for p in (params if params is not None else student.parameters())
                 if p.requires_grad]
    optimizer = _optimizer(trainable, config)
    sampler = CropSampler(inputs, config.batch_size, config.crop, config.flip, config.seed)
    losses: list[float] = []
    bar = tqdm(range(config.steps), desc=config.desc, unit="step")
    for step in bar:
        if on_step is not None:
            on_step(step)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(step, config)
        batch = sampler.batch()
        with torch.no_grad():
            targets = [t.detach() for t in teacher(batch)]
        loss = loss_fn(student(batch), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if step % 10 == 0 or step == config.steps - 1:
            window = losses[-10:]
            bar.set_postfix(loss=f"{sum(window) / len(window):.4f}")
    return losses


def evaluate_distance(student: Callable[[Tensor], Outputs], teacher: Callable[[Tensor], Outputs],
                      inputs: Tensor, loss_fn: LossFn = scrfd_distillation_loss,
                      batch_size: int = 1) -> float:
    """Mean ``loss_fn`` over whole inputs, without gradients: a quick fidelity check."""
    total = 0.0
    count = 0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start:start + batch_size].float()
            total += float(loss_fn(student(batch), teacher(batch))) * len(batch)
            count += len(batch)
    return total / max(1, count)
