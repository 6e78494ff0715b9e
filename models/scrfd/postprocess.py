"""Decoding of the nine raw SCRFD outputs into boxes, scores and five-point landmarks (numpy).

Conventions follow insightface's ``SCRFD`` so results are comparable with published numbers:
anchor centres sit on the top-left corner of each cell (``x * stride``, no +0.5), the network
predicts distances in stride units, and NMS uses the ``+1`` pixel area convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2


@lru_cache(maxsize=32)
def anchor_centers(height: int, width: int, stride: int, num_anchors: int = NUM_ANCHORS
                   ) -> np.ndarray:
    """(height*width*num_anchors, 2) float32 x, y; row-major, anchors of a cell adjacent.

    Cached (read-only): every letterboxed image of an evaluation has the same grids.
    """
    ys, xs = np.mgrid[:height, :width]
    centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    centers = np.repeat(centers, num_anchors, axis=0)
    centers.flags.writeable = False
    return centers


def distance2bbox(points: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Distances (left, top, right, bottom) from each point -> x1, y1, x2, y2."""
    return np.stack([points[:, 0] - distance[:, 0], points[:, 1] - distance[:, 1],
                     points[:, 0] + distance[:, 2], points[:, 1] + distance[:, 3]], axis=-1)


def distance2kps(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Offsets (dx0, dy0, ..., dx4, dy4) from each point -> (n, 5, 2) absolute landmarks."""
    return points[:, None, :] + offsets.reshape(len(offsets), offsets.shape[1] // 2, 2)


# Rows of the IoU matrix computed at once. Larger blocks waste work on rows that a kept box of
# the same block suppresses; smaller ones pay numpy's per-call overhead more often. The block's
# temporaries are rows x remaining boxes, so memory stays bounded by this many rows.
NMS_ROW_BLOCK = 32


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS; indices kept, highest score first.

    A box is suppressed only when its IoU with a kept box is strictly greater than the threshold
    (a NaN IoU, from degenerate boxes, suppresses too: it is not ``<=`` the threshold).
    Widths and heights count the end pixel (``x2 - x1 + 1``), as in insightface: on small faces
    this noticeably raises IoU, so dropping it would change which WIDER faces survive.

    The result is bit-identical to the textbook loop that computes one IoU row per kept box
    (``tests/reference_nms.py``, checked on random and real boxes): each IoU is the same
    elementwise float expression with the kept box as first operand, so it rounds alike. At the
    protocol's 0.02 score threshold an image has thousands of candidates and that loop's
    numpy calls on short rows cost more than the network. Here the IoUs of a block of the best
    remaining boxes against all remaining boxes come from one broadcast expression, the greedy
    pass over the block is boolean row ANDs, and suppressed boxes leave the remaining set before
    the next block is computed.
    """
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    # The remaining boxes, best first, as separate arrays so each keeps the input's dtype.
    remaining = (order, x1[order], y1[order], x2[order], y2[order], areas[order])
    keep: list[np.ndarray] = []
    while remaining[0].size:
        rows = min(NMS_ROW_BLOCK, remaining[0].size)
        survives = _survives(remaining[1:], rows, iou_threshold)
        live = np.ones(remaining[0].size, dtype=bool)
        kept = []
        for row in range(rows):
            if live[row]:
                kept.append(row)
                live &= survives[row]
        live[:rows] = False
        keep.append(remaining[0][kept])
        remaining = tuple(values[live] for values in remaining)
    return np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)


def _survives(remaining: tuple[np.ndarray, ...], rows: int, iou_threshold: float) -> np.ndarray:
    """(rows, n) bool: box j stays if box ``row`` is kept; the first ``rows`` boxes are the bests.

    The expression and its operand order are those of the one-row loop, ``best`` first.
    """
    x1, y1, x2, y2, areas = remaining
    bx1, by1, bx2, by2, best_areas = (values[:rows, None] for values in remaining)
    w = np.maximum(0.0, np.minimum(bx2, x2) - np.maximum(bx1, x1) + 1)
    h = np.maximum(0.0, np.minimum(by2, y2) - np.maximum(by1, y1) + 1)
    inter = w * h
    iou = inter / (best_areas + areas - inter)
    return iou <= iou_threshold


def _unbatch(output: np.ndarray) -> np.ndarray:
    """Accept (N, C) or (1, N, C): the official export drops the batch dim, the native model not."""
    output = np.asarray(output)
    if output.ndim == 3:
        if output.shape[0] != 1:
            raise ValueError(f"decode handles one image at a time, got a batch of {output.shape[0]}"
                             "; pass outputs[i:i + 1] per image")
        output = output[0]
    if output.ndim != 2:
        raise ValueError(f"expected an (N, C) or (1, N, C) output, got shape {output.shape}")
    return output


def feature_size(input_length: int, stride: int) -> int:
    """Map length after the stride-2 convs.

    Ceil, as the convolutions produce; insightface uses floor, identical for multiples of 32.
    """
    return -(-input_length // stride)


def decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], score_threshold: float,
           strides: Sequence[int] = STRIDES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates above ``score_threshold`` (inclusive) in network-input pixels.

    Returns boxes (n, 4), scores (n,), keypoints (n, 5, 2), all float32, in stride order.
    """
    levels = len(strides)
    if len(outputs) != 3 * levels:
        raise ValueError(f"expected {3 * levels} outputs (scores, boxes, keypoints per stride), "
                         f"got {len(outputs)}")
    all_boxes, all_scores, all_kps = [], [], []
    for level, stride in enumerate(strides):
        scores = _unbatch(outputs[level])[:, 0]
        box_dist = _unbatch(outputs[level + levels])
        kps_dist = _unbatch(outputs[level + 2 * levels])
        height, width = (feature_size(n, stride) for n in input_hw)
        centers = anchor_centers(height, width, stride)
        if len(centers) != len(scores):
            raise ValueError(f"stride {stride}: {len(scores)} rows for a {height}x{width} map "
                             f"with {NUM_ANCHORS} anchors ({len(centers)} expected); "
                             f"is input_hw={input_hw} the blob's size?")
        hits = np.flatnonzero(scores >= score_threshold)
        # Scaling only the candidates: the same products, a few percent of the rows.
        all_scores.append(scores[hits])
        all_boxes.append(distance2bbox(centers[hits], box_dist[hits] * stride))
        all_kps.append(distance2kps(centers[hits], kps_dist[hits] * stride))
    return (np.concatenate(all_boxes).astype(np.float32, copy=False),
            np.concatenate(all_scores).astype(np.float32, copy=False),
            np.concatenate(all_kps).astype(np.float32, copy=False))


def postprocess(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], scale: float,
                score_threshold: float, nms_iou: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode, map back to original pixels (divide by the letterbox scale), then NMS.

    Scaling happens before NMS, as in insightface, so the ``+1`` convention is applied in
    original-image pixels. Results are sorted by descending score.
    """
    boxes, scores, kps = decode(outputs, input_hw, score_threshold)
    boxes = boxes / np.float32(scale)
    keep = nms(boxes, scores, nms_iou)
    return boxes[keep], scores[keep], kps[keep] / np.float32(scale)
