"""SCRFD pre/post-processing on hand-computed cases (no weights needed).

Each expected number below is worked out by hand from insightface's conventions: anchor centres
at ``(col, row) * stride``, distances in stride units, ``+1`` NMS areas, inclusive threshold.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from compbench.models.scrfd import Detections, DetectorSettings, decode, detect, letterbox, nms, to_wider
from compbench.models.scrfd.postprocess import anchor_centers, postprocess
from compbench.models.scrfd.preprocess import fitted_size

# A 32x32 input gives 4x4, 2x2 and 1x1 maps: 32, 8 and 2 anchor rows.
INPUT_HW = (32, 32)
ROWS = (32, 8, 2)


def blank_outputs(batch: bool = False) -> list[np.ndarray]:
    outputs = [np.zeros((n, c), np.float32) for c in (1, 4, 10) for n in ROWS]
    return [o[None] for o in outputs] if batch else outputs


def put(outputs, level: int, row: int, score: float, boxes, kps) -> None:
    lead = (0,) if outputs[0].ndim == 3 else ()
    outputs[level][lead + (row, 0)] = score
    outputs[level + 3][lead + (row,)] = boxes
    outputs[level + 6][lead + (row,)] = kps


# Stride 16, map row 1 / col 1, first anchor -> row (1 * 2 + 1) * 2 + 0 = 6, centre (16, 16).
BOX_UNITS = [1.0, 0.5, 2.0, 1.5]                  # x 16 -> left 16, top 8, right 32, bottom 24
EXPECTED_BOX = [0.0, 8.0, 48.0, 40.0]
KPS_UNITS = [0, 0, 1, 1, -1, 0.5, 0.25, -0.25, 2, 2]
EXPECTED_KPS = [[16, 16], [32, 32], [0, 24], [20, 12], [48, 48]]


def test_anchor_centres_row_major_two_per_cell():
    centres = anchor_centers(2, 3, 8)
    assert centres.shape == (12, 2)
    np.testing.assert_array_equal(centres[:8], [[0, 0], [0, 0], [8, 0], [8, 0],
                                                [16, 0], [16, 0], [0, 8], [0, 8]])


def test_cached_anchor_centres_cannot_be_changed_by_a_caller():
    centres = anchor_centers(2, 3, 8)
    with pytest.raises(ValueError, match="read-only"):
        centres[0, 0] = 5
    assert anchor_centers(2, 3, 8)[0, 0] == 0


@pytest.mark.parametrize("batch", [False, True])
def test_decode_single_anchor(batch):
    outputs = blank_outputs(batch)
    put(outputs, 1, 6, 0.9, BOX_UNITS, KPS_UNITS)
    boxes, scores, kps = decode(outputs, INPUT_HW, score_threshold=0.5)
    np.testing.assert_allclose(scores, [0.9])
    np.testing.assert_allclose(boxes, [EXPECTED_BOX])
    np.testing.assert_allclose(kps, [EXPECTED_KPS])


def test_decode_other_strides_use_their_own_grid():
    outputs = blank_outputs()
    put(outputs, 0, 2 * 4 * 3 + 2 * 2 + 1, 0.7, [1, 1, 1, 1], np.zeros(10))  # s8 row 3 col 2
    put(outputs, 2, 1, 0.6, [0.5, 0.5, 0.5, 0.5], np.zeros(10))             # s32 only cell
    boxes, scores, kps = decode(outputs, INPUT_HW, score_threshold=0.5)
    np.testing.assert_allclose(scores, [0.7, 0.6])
    np.testing.assert_allclose(boxes, [[8, 16, 24, 32], [-16, -16, 16, 16]])
    np.testing.assert_allclose(kps[0], [[16, 24]] * 5)


def test_score_threshold_is_inclusive():
    outputs = blank_outputs()
    put(outputs, 1, 0, 0.5, BOX_UNITS, KPS_UNITS)
    put(outputs, 1, 1, np.nextafter(np.float32(0.5), np.float32(0)), BOX_UNITS, KPS_UNITS)
    _, scores, _ = decode(outputs, INPUT_HW, score_threshold=0.5)
    np.testing.assert_array_equal(scores, [0.5])


def test_decode_with_nothing_above_threshold_is_empty():
    boxes, scores, kps = decode(blank_outputs(), INPUT_HW, score_threshold=0.02)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and kps.shape == (0, 5, 2)


def test_decode_rejects_mismatched_input_size_and_batches():
    with pytest.raises(ValueError, match="stride 8"):
        decode(blank_outputs(), (64, 64), score_threshold=0.5)
    doubled = [np.concatenate([o, o]) for o in blank_outputs(batch=True)]
    with pytest.raises(ValueError, match="batch of 2"):
        decode(doubled, INPUT_HW, score_threshold=0.5)


def test_postprocess_divides_by_scale():
    outputs = blank_outputs()
    put(outputs, 1, 6, 0.9, BOX_UNITS, KPS_UNITS)
    boxes, _, kps = postprocess(outputs, INPUT_HW, scale=0.5, score_threshold=0.5, nms_iou=0.4)
    np.testing.assert_allclose(boxes, [[0, 16, 96, 80]])
    np.testing.assert_allclose(kps, [np.asarray(EXPECTED_KPS) * 2])


# Box A spans pixels 0..9 (area 100 with +1). B and C lie inside it: B covers rows 0..3 (area 40,
# IoU exactly 0.4) and C rows 0..4 (area 50, IoU 0.5; without the +1 it would be 36/81 = 0.444).
A, B, C = [0, 0, 9, 9], [0, 0, 9, 3], [0, 0, 9, 4]


def test_nms_keeps_iou_equal_to_threshold():
    keep = nms(np.array([A, B], np.float32), np.array([0.9, 0.8], np.float32), 0.4)
    np.testing.assert_array_equal(keep, [0, 1])


def test_nms_suppresses_iou_just_above_threshold():
    keep = nms(np.array([A, C], np.float32), np.array([0.9, 0.8], np.float32), 0.4)
    np.testing.assert_array_equal(keep, [0])


def test_nms_uses_plus_one_areas():
    boxes = np.array([A, C], np.float32)
    # 0.45 sits between the +1 IoU (0.5, suppress) and the plain IoU (0.444, would keep).
    np.testing.assert_array_equal(nms(boxes, np.array([0.9, 0.8], np.float32), 0.45), [0])


def test_nms_orders_by_score_and_keeps_disjoint_boxes():
    boxes = np.array([C, [50, 50, 60, 60], A], np.float32)
    keep = nms(boxes, np.array([0.3, 0.5, 0.9], np.float32), 0.4)
    np.testing.assert_array_equal(keep, [2, 1])


@pytest.mark.parametrize(("hw", "size", "expected"), [
    ((683, 1024), 640, (640, 426)),     # landscape: width limits, 640 * 683/1024 = 426.875
    ((1385, 1024), 640, (473, 640)),    # portrait: height limits, 640 / (1385/1024) = 473.2
    ((480, 640), (640, 480), (640, 480)),
])
def test_fitted_size_truncates_like_insightface(hw, size, expected):
    assert fitted_size(hw, size) == expected


def test_letterbox_matches_opencv_blob_reference():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(300, 200, 3), dtype=np.uint8)
    blob, scale = letterbox(image, 64)
    assert blob.shape == (1, 3, 64, 64) and blob.dtype == np.float32
    assert scale == pytest.approx(64 / 300)
    # insightface's own path: resize, paste top-left into zeros, then OpenCV's blob routine.
    canvas = np.zeros((64, 64, 3), np.uint8)
    canvas[:64, :42] = cv2.resize(image, (42, 64))
    expected = cv2.dnn.blobFromImage(canvas, 1.0 / 128, (64, 64), (127.5, 127.5, 127.5),
                                     swapRB=True)
    np.testing.assert_array_equal(blob, expected)
    np.testing.assert_array_equal(blob[0, :, :, 42:], -127.5 / 128)  # padding is black


def _fake_runner(outputs):
    def run(blob: np.ndarray) -> list[np.ndarray]:
        assert blob.shape == (1, 3, *INPUT_HW) and blob.dtype == np.float32
        return outputs
    return run


def test_detect_end_to_end_with_fake_engine():
    # A 64 (h) x 128 (w) image letterboxed into 32x32 -> resized to 32x16, scale 0.25.
    image = np.full((64, 128, 3), 100, np.uint8)
    outputs = blank_outputs(batch=True)
    put(outputs, 1, 6, 0.9, BOX_UNITS, KPS_UNITS)
    put(outputs, 0, 0, 0.3, [1, 1, 1, 1], np.zeros(10))    # [-8, -8, 8, 8] -> x4
    put(outputs, 0, 1, 0.01, [1, 1, 1, 1], np.zeros(10))   # below 0.02: dropped
    dets = detect(_fake_runner(outputs), image, DetectorSettings(input_size=32))
    np.testing.assert_allclose(dets.scores, [0.9, 0.3])
    np.testing.assert_allclose(dets.boxes, [np.asarray(EXPECTED_BOX) * 4, [-32, -32, 32, 32]])
    np.testing.assert_allclose(dets.keypoints[0], np.asarray(EXPECTED_KPS) * 4)
    top = detect(_fake_runner(outputs), image, DetectorSettings(input_size=32, max_detections=1))
    np.testing.assert_allclose(top.scores, [0.9])


def test_to_wider_uses_width_without_plus_one():
    dets = Detections(np.array([[10, 20, 40, 70]], np.float32), np.array([0.8], np.float32),
                      np.zeros((1, 5, 2), np.float32))
    np.testing.assert_allclose(to_wider(dets), [[10, 20, 30, 50, 0.8]])
