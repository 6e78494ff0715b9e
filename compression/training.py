"""The one optimisation loop of the PyTorch recipes that train (QAT, pruned, sparse, distilled).

Every recipe's training differs in what a step computes (which batch, which teacher, which
loss) and in its schedule, never in how a step is taken; keeping that in one place means a
fix to gradient clipping or learning-rate handling reaches every recipe at once, and the order
of operations that makes a rebuild bit-identical (zero grads, backward, clip, step) is written
down once.

Learning rates live in each parameter group's ``"base_lr"``; a step's rate is ``base_lr *
lr_factor(step)``, so groups with different rates (ReviewKD's student and fusion modules) share
one schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor
from tqdm import tqdm

StepLoss = Callable[[int], Tensor | Mapping[str, Tensor]]


def train_steps(optimizer: torch.optim.Optimizer, steps: int, loss: StepLoss, *,
                lr_factor: Callable[[int], float] | None = None,
                max_grad_norm: float | None = None,
                on_step: Callable[[int], None] | None = None,
                bar: tqdm | None = None, desc: str = "train") -> list[dict[str, float]]:
    """Run ``steps`` optimizer steps; returns every step's loss terms as floats.

    ``loss(step)`` draws its own batch and returns the loss, or a mapping of terms whose
    ``"total"`` is minimised (the others are only recorded). ``on_step(step)`` runs first in
    each step (QAT freezes its observers there). Gradients are clipped over all the optimizer's
    parameters when ``max_grad_norm`` is set. ``bar`` lets several phases share one progress bar
    (the caller closes it); without it the loop shows its own.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=steps, desc=desc, unit="step")
    history: list[dict[str, float]] = []
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        factor = 1.0 if lr_factor is None else lr_factor(step)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        terms = loss(step)
        if isinstance(terms, Tensor):
            terms = {"total": terms}
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        history.append({name: float(value.detach()) for name, value in terms.items()})
        window = history[-10:]
        bar.set_postfix({name: f"{sum(h[name] for h in window) / len(window):.4f}"
                         for name in history[-1]}, refresh=False)
        bar.update()
    if own_bar:
        bar.close()
    return history
