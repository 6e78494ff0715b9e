"""The detector's decode + NMS as first written: one numpy IoU row per kept box.

Kept verbatim as the reference that ``compbench.models.scrfd.postprocess`` must reproduce bit for bit
(tests/test_nms_exact.py) and as the "before" of scripts/wider_throughput.py. It shares no code
with the module under test, so a change there cannot move both sides of the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2


def reference_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS, ``+1`` areas, suppression unless IoU <= threshold; kept indices, best first."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _anchor_centers(height: int, width: int, stride: int) -> np.ndarray:
    ys, xs = np.mgrid[:height, :width]
    centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centers, NUM_ANCHORS, axis=0)


def _unbatch(output: np.ndarray) -> np.ndarray:
    output = np.asarray(output)
    return output[0] if output.ndim == 3 else output


def reference_decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int],
                     score_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates at or above ``score_threshold``: boxes, scores, (n, 5, 2) keypoints."""
    levels = len(STRIDES)
    all_boxes, all_scores, all_kps = [], [], []
    for level, stride in enumerate(STRIDES):
        scores = _unbatch(outputs[level])[:, 0]
        box_dist = _unbatch(outputs[level + levels]) * stride
        kps_dist = _unbatch(outputs[level + 2 * levels]) * stride
        height, width = (-(-n // stride) for n in input_hw)
        centers = _anchor_centers(height, width, stride)
        hits = np.flatnonzero(scores >= score_threshold)
        points, dist, offsets = centers[hits], box_dist[hits], kps_dist[hits]
        all_scores.append(scores[hits])
        all_boxes.append(np.stack([points[:, 0] - dist[:, 0], points[:, 1] - dist[:, 1],
                                   points[:, 0] + dist[:, 2], points[:, 1] + dist[:, 3]], axis=-1))
        all_kps.append(points[:, None, :] + offsets.reshape(len(offsets), offsets.shape[1] // 2, 2))
    return (np.concatenate(all_boxes).astype(np.float32, copy=False),
            np.concatenate(all_scores).astype(np.float32, copy=False),
            np.concatenate(all_kps).astype(np.float32, copy=False))


def reference_postprocess(outputs: Sequence[np.ndarray], input_hw: tuple[int, int],
                          scale: float, score_threshold: float, nms_iou: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode, divide by the letterbox scale, NMS: boxes, scores, keypoints, best first."""
    boxes, scores, kps = reference_decode(outputs, input_hw, score_threshold)
    boxes = boxes / np.float32(scale)
    kps = kps / np.float32(scale)
    keep = reference_nms(boxes, scores, nms_iou)
    return boxes[keep], scores[keep], kps[keep]
