"""Engine-agnostic SCRFD face detection: letterbox -> any runner -> decode + NMS.

The network is reached only through ``run`` (float32 NCHW blob -> the nine raw outputs), so the
native PyTorch model, onnxruntime or any compressed/compiled variant share one pre/post-processing
path and differ only where the benchmark wants them to: in the network itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from compbench.models.scrfd.postprocess import postprocess
from compbench.models.scrfd.preprocess import letterbox

Runner = Callable[[np.ndarray], Sequence[np.ndarray]]


@dataclass(frozen=True)
class DetectorSettings:
    """Defaults are the WIDER FACE evaluation settings (low threshold keeps the PR curve whole)."""

    input_size: int = 640
    score_threshold: float = 0.02
    nms_iou: float = 0.4
    max_detections: int | None = None


@dataclass(frozen=True)
class Detections:
    """Original-image pixels, sorted by descending score."""

    boxes: np.ndarray       # (n, 4) x1, y1, x2, y2
    scores: np.ndarray      # (n,)
    keypoints: np.ndarray   # (n, 5, 2) x, y: eyes, nose, mouth corners

    def __len__(self) -> int:
        return len(self.scores)


def detect(run: Runner, image_bgr: np.ndarray,
           settings: DetectorSettings = DetectorSettings()) -> Detections:
    """Faces in one BGR uint8 image."""
    blob, scale = letterbox(image_bgr, settings.input_size)
    return detections(run(blob), blob.shape[2:], scale, settings)


def detections(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], scale: float,
               settings: DetectorSettings = DetectorSettings()) -> Detections:
    """Faces from one image's raw outputs (a batched evaluation passes each image's slice).

    ``max_detections`` keeps the highest-scoring boxes. (insightface's ``max_num`` instead ranks
    by size and centrality to find a "main" face, which would bias an accuracy benchmark.)
    """
    boxes, scores, keypoints = postprocess([np.asarray(out) for out in outputs], input_hw, scale,
                                           settings.score_threshold, settings.nms_iou)
    if settings.max_detections is not None:
        limit = settings.max_detections
        boxes, scores, keypoints = boxes[:limit], scores[:limit], keypoints[:limit]
    return Detections(boxes, scores, keypoints)


def to_wider(dets: Detections) -> np.ndarray:
    """(n, 5) x, y, w, h, score: the WIDER FACE submission format (w = x2 - x1, no +1)."""
    wh = dets.boxes[:, 2:4] - dets.boxes[:, 0:2]
    return np.concatenate([dets.boxes[:, 0:2], wh, dets.scores[:, None]], axis=1)
