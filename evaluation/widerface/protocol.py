"""WIDER FACE val AP, exactly as the official eval_tools compute it, vectorised with numpy.

The official code (MATLAB ``evaluation.m`` and its Python port) walks every prediction of every
image in score order, then every one of 1000 score thresholds of every image. Read closely, that
walk has no sequential dependency, which is what lets this module do it in a few array passes:

* a prediction's best ground-truth face (first argmax of IoU) and whether it is a "proposal"
  (it is not, when it hits a face the setting ignores) depend on that prediction alone;
* ``pred_recall[r]`` counts the kept faces hit by predictions ``0..r``; a kept face, once hit,
  stays hit, and predictions ``0..r`` are exactly the image's predictions scoring at least the
  threshold (they are sorted by score). So at threshold ``t`` an image contributes the number of
  its proposals scoring ``>= t`` and the number of kept faces whose best-scoring hit scores
  ``>= t``. Both are histograms of per-prediction / per-face "first threshold index" values.

Hence no per-image sort is needed here: the result equals the sorted walk's, ties included
(tied predictions pass or fail a threshold together). Only the IoU matrix is built per image.

Conventions kept from the official code on purpose (they change AP values):

* IoU uses inclusive pixel coordinates: ``x2 = x + w`` and widths ``x2 - x1 + 1``.
* An image without ground-truth boxes or without predictions adds nothing to the curve (its
  predictions are *not* false positives), but its kept faces still count in the recall total.
* Scores are min-max normalised over all evaluated predictions before thresholding.

Degenerate inputs the official code turns into NaN are made explicit instead (no NaN leaks):
all scores equal -> every normalised score is 1.0 (each prediction passes every threshold; the
official code divides 0 by 0 and reports AP 0); a threshold with no proposals -> precision 0
(the official code gets 0/0 there, at recall 0, where it never enters the AP sum); a setting with
no kept face among the evaluated images -> AP 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from compbench.errors import CompbenchError, NonFiniteOutput
from compbench.evaluation.widerface.ground_truth import SETTINGS, WiderGroundTruth

IOU_THRESHOLD = 0.5
THRESH_NUM = 1000


class WiderEvaluationError(CompbenchError):
    """Predictions that cannot be evaluated against the ground truth (wrong shape, keys...)."""


class UnknownImageError(WiderEvaluationError):
    """A prediction names an image the ground truth does not have."""


@dataclass(frozen=True)
class SettingResult:
    """One setting's PR curve (index t: score threshold ``1 - (t+1)/1000``) and AP."""

    ap: float
    precision: np.ndarray
    recall: np.ndarray
    proposals: np.ndarray
    recalled: np.ndarray
    face_count: int


@dataclass(frozen=True)
class WiderResult:
    settings: dict[str, SettingResult]
    image_count: int
    prediction_count: int

    @property
    def aps(self) -> dict[str, float]:
        return {name: result.ap for name, result in self.settings.items()}


def thresholds() -> np.ndarray:
    """The official 1000 thresholds, computed with the same float operations as the tools."""
    return 1.0 - (np.arange(THRESH_NUM, dtype=np.float64) + 1.0) / THRESH_NUM


def normalise_scores(scores: np.ndarray) -> np.ndarray:
    """Min-max normalise over the whole evaluated set (the thresholds live in [0, 1]).

    If every score is equal the official division is 0/0; we map all scores to 1.0 so every
    prediction is kept at every threshold, which is what a detector with one confidence means.
    """
    if scores.size == 0:
        return scores.astype(np.float64)
    low, high = scores.min(), scores.max()
    if high == low:
        return np.ones_like(scores, dtype=np.float64)
    return (scores - low) / (high - low)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC area under the precision envelope, summed where recall changes (official voc_ap)."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def _evaluated_keys(predictions: Mapping[str, np.ndarray], ground_truth: WiderGroundTruth,
                    subset: bool, evaluated_keys: Iterable[str] | None) -> list[str]:
    unknown = [key for key in predictions if key not in ground_truth.boxes]
    if unknown:
        raise UnknownImageError(
            f"prediction for {len(unknown)} image(s) not in the WIDER FACE ground truth, e.g. "
            f"{unknown[0]!r}; keys must be '<event>/<name>' as in WIDER_val/images.")
    if not subset:
        if evaluated_keys is not None:
            raise ValueError("evaluated_keys only applies to subset evaluation (subset=True)")
        return ground_truth.keys
    chosen = set(predictions if evaluated_keys is None else evaluated_keys)
    strays = [key for key in chosen if key not in ground_truth.boxes]
    if strays:
        raise UnknownImageError(f"evaluated image {strays[0]!r} is not in the WIDER FACE "
                                f"ground truth; keys must be '<event>/<name>'.")
    outside = [key for key in predictions if key not in chosen]
    if outside:
        raise WiderEvaluationError(f"prediction for {outside[0]!r}, which is not among the "
                                   f"evaluated images; add it to evaluated_keys or drop it.")
    if not chosen:
        raise WiderEvaluationError("nothing to evaluate: subset mode with no evaluated image.")
    return [key for key in ground_truth.keys if key in chosen]  # official order, deterministic


def _as_boxes(key: str, value: np.ndarray | None) -> np.ndarray:
    if value is None:
        return np.zeros((0, 5))
    array = np.asarray(value, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 5)
    if array.ndim != 2 or array.shape[1] != 5:
        raise WiderEvaluationError(f"predictions for {key!r} have shape {array.shape}; "
                                   f"expected (n, 5) rows of x y w h score.")
    if not np.isfinite(array).all():
        raise NonFiniteOutput(f"predictions for {key!r} contain NaN or infinity; the detector "
                              f"output is broken, so no AP can be computed from it.")
    return array


def _corners(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """x1, y1, x2, y2 and the +1-pixel area, with the official operation order (bit-exact)."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    return x1, y1, x2, y2, (x2 - x1 + 1.0) * (y2 - y1 + 1.0)


def _best_faces(pred: tuple[np.ndarray, ...], gt: tuple[np.ndarray, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction: first index of its max-IoU face and whether that IoU reaches 0.5."""
    px1, py1, px2, py2, parea = (a[:, None] for a in pred)
    gx1, gy1, gx2, gy2, garea = (a[None, :] for a in gt)
    # In place where possible: this (n_pred, n_gt) arithmetic is most of the evaluation time.
    inter = np.minimum(px2, gx2)
    inter -= np.maximum(px1, gx1)
    inter += 1.0
    np.maximum(inter, 0.0, out=inter)
    ih = np.minimum(py2, gy2)
    ih -= np.maximum(py1, gy1)
    ih += 1.0
    np.maximum(ih, 0.0, out=ih)
    inter *= ih
    union = parea + garea
    union -= inter
    # Only where boxes intersect: elsewhere the official IoU is 0, while the union can be 0 or
    # negative (the ground truth has a few boxes of width -2).
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0.0)
    face = iou.argmax(axis=1)
    return face, iou[np.arange(len(face)), face] >= IOU_THRESHOLD


def _threshold_index(normalised: np.ndarray) -> np.ndarray:
    """Smallest t whose threshold the score reaches (THRESH_NUM: none), with exact compares.

    An arithmetic guess corrected against the exact threshold values: as exact as
    ``searchsorted`` but several times faster for a million scores.
    """
    steps = thresholds()
    padded = np.concatenate(([np.inf], steps, [-np.inf]))  # padded[t + 1] == steps[t]
    first = np.clip(np.floor((1.0 - normalised) * THRESH_NUM).astype(np.int64) - 1,
                    0, THRESH_NUM)
    for _ in range(THRESH_NUM):
        too_far = padded[first] <= normalised      # steps[first - 1] already reached
        too_soon = padded[first + 1] > normalised  # steps[first] not reached yet
        if not (too_far.any() or too_soon.any()):
            return first
        first = first - too_far + too_soon
    raise AssertionError("threshold search did not converge")  # pragma: no cover


def _cumulative(first_t: np.ndarray) -> np.ndarray:
    """Number of items counted at each threshold, given the first threshold each is counted."""
    return np.cumsum(np.bincount(first_t, minlength=THRESH_NUM + 1)[:THRESH_NUM])


def _match(all_pred: np.ndarray, all_gt: np.ndarray, pred_start: np.ndarray,
           face_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction: global index of its best face (-1 when its best IoU is below 0.5), and
    whether it is counted at all (its image has both faces and predictions)."""
    hit_face = np.full(len(all_pred), -1, dtype=np.int64)
    counted = np.zeros(len(all_pred), dtype=bool)
    pred_corners, gt_corners = _corners(all_pred), _corners(all_gt)
    n_pred, n_gt = np.diff(pred_start), np.diff(face_start)
    for i in np.flatnonzero((n_pred > 0) & (n_gt > 0)):
        p = slice(pred_start[i], pred_start[i + 1])
        g = slice(face_start[i], face_start[i + 1])
        face, hit = _best_faces(tuple(a[p] for a in pred_corners),
                                tuple(a[g] for a in gt_corners))
        hit_face[p] = np.where(hit, face + face_start[i], -1)
        counted[p] = True
    return hit_face, counted


def _setting_result(kept: np.ndarray, face_count: int, first_t: np.ndarray,
                    hit_face: np.ndarray, counted: np.ndarray,
                    face_first_t: np.ndarray) -> SettingResult:
    hits = hit_face >= 0
    ignored_hit = np.zeros(len(hit_face), dtype=bool)
    ignored_hit[hits] = ~kept[hit_face[hits]]
    proposals = _cumulative(first_t[counted & ~ignored_hit])
    recalled = _cumulative(face_first_t[kept])
    precision = np.divide(recalled, proposals, out=np.zeros(THRESH_NUM), where=proposals > 0)
    if face_count == 0:
        return SettingResult(ap=0.0, precision=precision, recall=np.zeros(THRESH_NUM),
                             proposals=proposals, recalled=recalled, face_count=0)
    recall = recalled / face_count
    return SettingResult(ap=voc_ap(recall, precision), precision=precision, recall=recall,
                         proposals=proposals, recalled=recalled, face_count=face_count)


def evaluate_detailed(predictions: Mapping[str, np.ndarray], ground_truth: WiderGroundTruth,
                      subset: bool = True, evaluated_keys: Iterable[str] | None = None
                      ) -> WiderResult:
    """Like ``evaluate`` but also returns the PR curves and counts (for reports and tests)."""
    keys = _evaluated_keys(predictions, ground_truth, subset, evaluated_keys)
    arrays = [_as_boxes(key, predictions.get(key)) for key in keys]
    gt_arrays = [ground_truth.boxes[key] for key in keys]
    pred_start = np.concatenate(([0], np.cumsum([len(a) for a in arrays], dtype=np.int64)))
    face_start = np.concatenate(([0], np.cumsum([len(g) for g in gt_arrays], dtype=np.int64)))
    all_pred = np.concatenate(arrays) if arrays else np.zeros((0, 5))
    all_gt = np.concatenate(gt_arrays) if gt_arrays else np.zeros((0, 4))

    first_t = _threshold_index(normalise_scores(all_pred[:, 4]))
    hit_face, counted = _match(all_pred, all_gt, pred_start, face_start)
    # First threshold at which each face is hit: that of its best-scoring hitting prediction.
    hits = np.flatnonzero(hit_face >= 0)
    face_first_t = np.full(len(all_gt), THRESH_NUM, dtype=np.int64)
    np.minimum.at(face_first_t, hit_face[hits], first_t[hits])

    results = {}
    for setting in SETTINGS:
        kept = np.zeros(len(all_gt), dtype=bool)
        for start, key in zip(face_start[:-1], keys, strict=True):
            kept[start + ground_truth.keep[setting][key]] = True
        results[setting] = _setting_result(kept, ground_truth.face_count(setting, keys),
                                           first_t, hit_face, counted, face_first_t)
    return WiderResult(settings=results, image_count=len(keys),
                       prediction_count=len(all_pred))


def evaluate(predictions: Mapping[str, np.ndarray], ground_truth: WiderGroundTruth,
             subset: bool = True, evaluated_keys: Iterable[str] | None = None
             ) -> dict[str, float]:
    """AP per setting ("easy", "medium", "hard") of ``predictions`` (key -> (n, 5) x y w h s).

    ``subset=True`` evaluates only the images in ``evaluated_keys`` (default: the keys of
    ``predictions``), faces included: the mode for running on part of val, e.g. the embedded
    100-image set. An evaluated image with no detections still counts its faces.
    ``subset=False`` is the official full-val mode: every ground-truth image counts, those
    without an entry as having no detections.
    """
    return evaluate_detailed(predictions, ground_truth, subset, evaluated_keys).aps
