"""A deliberately literal, loop-based transcription of the official WIDER FACE evaluation.

Used only by tests, as an independent check of the vectorised ``compbench.evaluation.widerface.protocol``:
it follows the official eval_tools step by step (sort each image by score, normalise scores,
walk predictions in order with per-face recall states, then walk the 1000 thresholds per image)
and shares no code with the module under test. Slow on purpose: clarity over speed.
"""

from __future__ import annotations

import numpy as np

SETTINGS = ("easy", "medium", "hard")
IOU_THRESH = 0.5
THRESH_NUM = 1000


def box_overlaps(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU matrix (n_pred, n_gt) of x1 y1 x2 y2 boxes, +1-pixel convention, one pair at a time."""
    overlaps = np.zeros((pred.shape[0], gt.shape[0]))
    for k in range(gt.shape[0]):
        gt_area = (gt[k, 2] - gt[k, 0] + 1) * (gt[k, 3] - gt[k, 1] + 1)
        for n in range(pred.shape[0]):
            iw = min(pred[n, 2], gt[k, 2]) - max(pred[n, 0], gt[k, 0]) + 1
            if iw > 0:
                ih = min(pred[n, 3], gt[k, 3]) - max(pred[n, 1], gt[k, 1]) + 1
                if ih > 0:
                    pred_area = (pred[n, 2] - pred[n, 0] + 1) * (pred[n, 3] - pred[n, 1] + 1)
                    union = pred_area + gt_area - iw * ih
                    overlaps[n, k] = iw * ih / union
    return overlaps


def box_overlaps_numpy(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Same as ``box_overlaps``, one gt column at a time with numpy (for big inputs)."""
    overlaps = np.zeros((pred.shape[0], gt.shape[0]))
    pred_area = (pred[:, 2] - pred[:, 0] + 1) * (pred[:, 3] - pred[:, 1] + 1)
    for k in range(gt.shape[0]):
        gt_area = (gt[k, 2] - gt[k, 0] + 1) * (gt[k, 3] - gt[k, 1] + 1)
        iw = np.minimum(pred[:, 2], gt[k, 2]) - np.maximum(pred[:, 0], gt[k, 0]) + 1
        ih = np.minimum(pred[:, 3], gt[k, 3]) - np.maximum(pred[:, 1], gt[k, 1]) + 1
        valid = (iw > 0) & (ih > 0)
        inter = iw[valid] * ih[valid]
        overlaps[valid, k] = inter / (pred_area[valid] + gt_area - inter)
    return overlaps


def norm_score(preds: dict[str, np.ndarray]) -> None:
    """In place: min-max over every prediction of every image (all equal -> 1.0)."""
    max_score, min_score = -np.inf, np.inf
    for boxes in preds.values():
        if len(boxes) == 0:
            continue
        max_score = max(max_score, np.max(boxes[:, 4]))
        min_score = min(min_score, np.min(boxes[:, 4]))
    diff = max_score - min_score
    for boxes in preds.values():
        if len(boxes) == 0:
            continue
        if diff == 0:
            boxes[:, 4] = 1.0
        else:
            boxes[:, 4] = (boxes[:, 4] - min_score) / diff


def image_eval(pred: np.ndarray, overlaps: np.ndarray, ignore: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Greedy walk in score order; ignore[k] == 0 marks a face the setting does not keep."""
    pred_recall = np.zeros(pred.shape[0])
    recall_list = np.zeros(overlaps.shape[1])
    proposal_list = np.ones(pred.shape[0])
    for h in range(pred.shape[0]):
        gt_overlap = overlaps[h]
        max_overlap, max_idx = gt_overlap.max(), gt_overlap.argmax()
        if max_overlap >= IOU_THRESH:
            if ignore[max_idx] == 0:
                recall_list[max_idx] = -1
                proposal_list[h] = -1
            elif recall_list[max_idx] == 0:
                recall_list[max_idx] = 1
        pred_recall[h] = len(np.where(recall_list == 1)[0])
    return pred_recall, proposal_list


def img_pr_info(pred: np.ndarray, proposal_list: np.ndarray, pred_recall: np.ndarray
                ) -> np.ndarray:
    pr_info = np.zeros((THRESH_NUM, 2))
    for t in range(THRESH_NUM):
        thresh = 1 - (t + 1) / THRESH_NUM
        r_index = np.where(pred[:, 4] >= thresh)[0]
        if len(r_index) == 0:
            pr_info[t, 0] = 0
            pr_info[t, 1] = 0
        else:
            r_index = r_index[-1]
            pr_info[t, 0] = len(np.where(proposal_list[:r_index + 1] == 1)[0])
            pr_info[t, 1] = pred_recall[r_index]
    return pr_info


def voc_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def evaluate_reference(predictions: dict[str, np.ndarray], ground_truth, subset: bool = True,
                       evaluated_keys=None, literal_iou: bool = False) -> dict[str, float]:
    """AP per setting. ``ground_truth`` needs ``boxes[key]`` (xywh) and 0-based ``keep``."""
    if subset:
        keys = list(predictions if evaluated_keys is None else evaluated_keys)
    else:
        keys = list(ground_truth.boxes)
    preds = {}
    for key in keys:
        boxes = np.array(predictions.get(key, np.zeros((0, 5))), dtype=np.float64).reshape(-1, 5)
        order = np.argsort(-boxes[:, 4], kind="stable")  # MATLAB sort(...,'descend') is stable
        preds[key] = boxes[order]
    norm_score(preds)
    overlaps_of = box_overlaps if literal_iou else box_overlaps_numpy

    aps = {}
    for setting in SETTINGS:
        count_face = 0
        pr_curve = np.zeros((THRESH_NUM, 2))
        for key in keys:
            pred_info = preds[key]
            gt_boxes = ground_truth.boxes[key].astype(float)
            keep_index = ground_truth.keep[setting][key] + 1  # back to the official 1-based
            count_face += len(keep_index)
            if len(gt_boxes) == 0 or len(pred_info) == 0:
                continue
            ignore = np.zeros(gt_boxes.shape[0])
            if len(keep_index) != 0:
                ignore[keep_index - 1] = 1
            pred_xyxy = pred_info[:, :4].copy()
            pred_xyxy[:, 2] = pred_xyxy[:, 2] + pred_xyxy[:, 0]
            pred_xyxy[:, 3] = pred_xyxy[:, 3] + pred_xyxy[:, 1]
            gt_xyxy = gt_boxes.copy()
            gt_xyxy[:, 2] = gt_xyxy[:, 2] + gt_xyxy[:, 0]
            gt_xyxy[:, 3] = gt_xyxy[:, 3] + gt_xyxy[:, 1]
            overlaps = overlaps_of(pred_xyxy, gt_xyxy)
            pred_recall, proposal_list = image_eval(pred_info, overlaps, ignore)
            pr_curve += img_pr_info(pred_info, proposal_list, pred_recall)
        precision = np.zeros(THRESH_NUM)
        recall = np.zeros(THRESH_NUM)
        for i in range(THRESH_NUM):
            # 0/0 where nothing passes the threshold: the official NaN sits at recall 0 and
            # never enters the AP sum, so 0 gives the same AP.
            precision[i] = pr_curve[i, 1] / pr_curve[i, 0] if pr_curve[i, 0] > 0 else 0.0
            recall[i] = pr_curve[i, 1] / count_face if count_face > 0 else 0.0
        aps[setting] = voc_ap(recall, precision) if count_face > 0 else 0.0
    return aps
