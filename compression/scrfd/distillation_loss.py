"""The distance between two sets of SCRFD outputs that the self-distilling recipes minimise.

The detector's nine outputs (scores, boxes, keypoints for strides 8, 16, 32) and what WIDER AP
rewards (the ranking of low-confidence small faces) decide its form, so it belongs to the
detector rather than to the generic loop (``compbench.compression.self_distillation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from compbench.compression.self_distillation import Outputs


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


