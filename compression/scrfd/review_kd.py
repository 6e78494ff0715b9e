"""The detector's side of ReviewKD: which maps are reviewed, how its outputs are compared, where
its letterboxed inputs may be cropped.

SCRFD's neck maps (one per stride) are what the review path fuses; its nine head outputs
(scores, boxes, keypoints per stride) carry the response term; and the letterbox anchors each
image top-left on black padding, so training crops are placed over the content.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

NUM_STRIDES = 3


def response_loss(student: Sequence[Tensor], teacher: Sequence[Tensor],
                  score_floor: float = 0.02) -> dict[str, Tensor]:
    """Head-output distillation on the nine SCRFD outputs (scores, boxes, keypoints per stride).

    ``score``: Bernoulli KL(teacher || student) summed over anchors (zero when equal); ``box`` and
    ``kps``: smooth-L1 of the distances (stride units), averaged over coordinates and weighted by
    the teacher score where it reaches ``score_floor``. All three are divided by the total weight
    (at least 1), i.e. per teacher-detected face rather than per anchor.
    """
    n = NUM_STRIDES
    eps = 1e-6
    s_scores = torch.cat([s.reshape(-1) for s in student[:n]]).clamp(eps, 1 - eps)
    t_scores = torch.cat([t.reshape(-1) for t in teacher[:n]]).clamp(eps, 1 - eps)
    weights = torch.where(t_scores >= score_floor, t_scores, torch.zeros_like(t_scores))
    norm = weights.sum().clamp(min=1.0)
    kl = (t_scores * (t_scores.log() - s_scores.log())
          + (1 - t_scores) * ((1 - t_scores).log() - (1 - s_scores).log()))
    terms = {"score": kl.sum() / norm}
    for name, first in (("box", n), ("kps", 2 * n)):
        if len(student) <= first:
            continue
        dist = torch.cat([F.smooth_l1_loss(s, t, reduction="none", beta=0.1).mean(-1).reshape(-1)
                          for s, t in zip(student[first:first + n], teacher[first:first + n],
                                          strict=True)])
        terms[name] = (weights * dist).sum() / norm
    return terms


def student_channels(model: nn.Module) -> list[int]:
    return [conv.out_channels for conv in model.neck.fpn_convs]


def student_forward(model: nn.Module, images: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Neck maps and the nine outputs (same order as ``SCRFD.forward``), from one pass."""
    feats = model.neck(list(model.backbone(images)))
    scores, boxes, kps = model.bbox_head(feats)
    return feats, [*scores, *boxes, *kps]



PAD_VALUE = (0.0 - 127.5) / 128.0  # letterbox padding (black) after normalisation


def content_extent(blob: np.ndarray) -> tuple[int, int]:
    """(height, width) of the letterboxed image: it is anchored top-left, padding is black."""
    content = np.any(blob[0] != PAD_VALUE, axis=0)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size == 0:
        return blob.shape[2], blob.shape[3]
    return int(rows[-1]) + 1, int(cols[-1]) + 1


def random_crops(blob: np.ndarray, size: int, count: int, flip: bool,
                 rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` ``size x size`` windows placed uniformly over the image content (not the
    padding), each mirrored left-right with probability 1/2 when ``flip``."""
    height, width = content_extent(blob)
    crops = []
    for _ in range(count):
        top = int(rng.integers(0, max(min(height, blob.shape[2]) - size, 0) + 1))
        left = int(rng.integers(0, max(min(width, blob.shape[3]) - size, 0) + 1))
        crop = blob[:, :, top:top + size, left:left + size]
        if flip and rng.random() < 0.5:
            crop = crop[:, :, :, ::-1]
        crops.append(np.ascontiguousarray(crop))
    return crops
