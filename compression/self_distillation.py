"""Label-free self-distillation: a student learns to reproduce a frozen teacher's raw outputs.

Shared by the recipes that fine-tune after a lossy change (QAT's fake quantization, channel
pruning, masked sparsity): the teacher is the fp32 reference, the data the calibration images, so
no labels and no evaluation image are ever involved.

The loop is generic over callables: ``student`` is any ``nn.Module`` whose outputs line up with
``teacher``'s (any callable; it is run under ``no_grad``), the loss is any function of the two
output sequences (the detector's is ``compbench.compression.scrfd.distillation_loss``) and ``on_step`` lets a
caller act at given steps (QAT freezes its observers there). The caller chooses the student's
mode beforehand (``eval()`` keeps BatchNorm statistics frozen while gradients still flow). Taking
a step is ``compbench.compression.training.train_steps``, the loop ReviewKD trains with too.

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
from torch import Tensor, nn
from tqdm import tqdm

from compbench.compression.training import train_steps

Outputs = Sequence[Tensor]
LossFn = Callable[[Outputs, Outputs], Tensor]


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
    groups = [{"params": params, "base_lr": config.lr}]
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r} (use 'adam' or 'sgd')")


def self_distill(student: nn.Module, teacher: Callable[[Tensor], Outputs], inputs: Tensor,
                 config: DistillConfig = DistillConfig(), *, loss_fn: LossFn,
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

    def loss(_step: int) -> Tensor:
        batch = sampler.batch()
        with torch.no_grad():
            targets = [t.detach() for t in teacher(batch)]
        return loss_fn(student(batch), targets)

    history = train_steps(optimizer, config.steps, loss,
                          lr_factor=lambda step: _lr_factor(step, config),
                          max_grad_norm=config.max_grad_norm, on_step=on_step, desc=config.desc)
    return [terms["total"] for terms in history]


def evaluate_distance(student: Callable[[Tensor], Outputs], teacher: Callable[[Tensor], Outputs],
                      inputs: Tensor, loss_fn: LossFn, batch_size: int = 1) -> float:
    """Mean ``loss_fn`` over whole inputs, without gradients: a quick fidelity check."""
    total = 0.0
    count = 0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start:start + batch_size].float()
            total += float(loss_fn(student(batch), teacher(batch))) * len(batch)
            count += len(batch)
    return total / max(1, count)
