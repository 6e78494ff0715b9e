"""The detector's decode + NMS give bit-identical results to the reference loop they replaced.

Identical, not close: the same kept indices in the same order, the same float32 boxes, scores and
landmarks, so every WIDER AP computed before the change still holds. Checked on random boxes
(clusters that suppress within one block of rows and across blocks, tied scores, IoUs a few ulps
either side of the threshold, degenerate and non-finite boxes) and on the real SCRFD outputs of
every image of the WIDER FACE mini set at the evaluation's settings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compbench.models.scrfd.detector import DetectorSettings
from compbench.models.scrfd.network import torch_runner
from compbench.models.scrfd.postprocess import NMS_ROW_BLOCK, decode, nms, postprocess
from compbench.models.scrfd.weights import load_scrfd_500m_kps
from compbench.tasks.widerface import WiderFaceTask
from tests.reference_nms import reference_decode, reference_nms, reference_postprocess

SEEDS = range(40)


def assert_same_keep(boxes, scores, iou_threshold):
    expected = reference_nms(boxes, scores, iou_threshold)
    got = nms(boxes, scores, iou_threshold)
    assert got.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    return got


def clustered_boxes(rng: np.random.Generator, n: int, dtype=np.float32) -> np.ndarray:
    """Jittered copies around a few centres, as a detector's candidates around faces."""
    centres = rng.uniform(0, 600, size=(max(1, n // 40), 2))
    sizes = rng.uniform(4, 120, size=len(centres))
    pick = rng.integers(len(centres), size=n)
    half = sizes[pick, None] * rng.uniform(0.6, 1.4, size=(n, 2)) / 2
    middle = centres[pick] + rng.normal(scale=0.15, size=(n, 2)) * sizes[pick, None]
    return np.concatenate([middle - half, middle + half], axis=1).astype(dtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_clustered_boxes_over_many_blocks(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12 * NMS_ROW_BLOCK))
    boxes = clustered_boxes(rng, n)
    scores = rng.uniform(0.02, 1, size=n).astype(np.float32)
    for threshold in (0.4, 0.1, 0.7):
        assert_same_keep(boxes, scores, threshold)


@pytest.mark.parametrize("seed", SEEDS)
def test_tied_scores_keep_the_input_order(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 4 * NMS_ROW_BLOCK))
    boxes = clustered_boxes(rng, n)
    scores = rng.choice(np.float32([0.9, 0.5, 0.5, 0.3]), size=n)
    assert_same_keep(boxes, scores, 0.4)
    assert_same_keep(boxes, np.zeros(n, np.float32), 0.4)


@pytest.mark.parametrize("seed", SEEDS)
def test_ious_a_few_ulps_around_the_threshold(seed):
    """Nested box pairs whose float32 IoU straddles 0.4 by a few ulps.

    About one pair in fifty decides differently when the IoU is computed in float64, so an
    implementation that changed the arithmetic (not just its speed) fails here.
    """
    rng = np.random.default_rng(seed)
    pairs = 3 * NMS_ROW_BLOCK
    # One pair per 210-pixel cell of a grid: pairs never touch, coordinates stay small.
    x = (np.arange(pairs) % 10 * 210 + rng.uniform(0, 4, size=pairs)).astype(np.float32)
    y = (np.arange(pairs) // 10 * 210 + rng.uniform(0, 4, size=pairs)).astype(np.float32)
    x2 = (x + rng.uniform(5, 200, size=pairs) - 1).astype(np.float32)
    y2 = (y + rng.uniform(5, 200, size=pairs) - 1).astype(np.float32)
    inner_y2 = (y + 0.4 * (y2.astype(np.float64) - y + 1) - 1).astype(np.float32)
    inner_y2 += rng.integers(-3, 4, size=pairs) * np.spacing(inner_y2)
    boxes = np.concatenate([np.stack([x, y, x2, y2], axis=1),
                            np.stack([x, y, x2, inner_y2], axis=1)])
    scores = np.repeat(np.float32([0.9, 0.5]), pairs)
    shuffled = rng.permutation(2 * pairs)
    keep = assert_same_keep(boxes[shuffled], scores[shuffled], 0.4)
    assert pairs < len(keep) < 2 * pairs, "the pairs should fall on both sides of the threshold"


@pytest.mark.parametrize("seed", SEEDS)
def test_degenerate_and_non_finite_boxes(seed):
    """Zero, negative and NaN areas, infinities, signed zeros: the 0/0 IoUs suppress alike."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3 * NMS_ROW_BLOCK))
    boxes = clustered_boxes(rng, n)
    odd = rng.random(size=boxes.shape) < 0.15
    specials = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e30])
    boxes[odd] = rng.choice(specials, size=int(odd.sum()))
    flat = rng.random(size=n) < 0.2                      # zero-width boxes: x2 = x1 - 1
    boxes[flat, 2] = boxes[flat, 0] - 1
    flipped = rng.random(size=n) < 0.2                   # x2 < x1: a negative width
    boxes[flipped] = boxes[flipped][:, [2, 1, 0, 3]]
    scores = rng.uniform(0, 1, size=n).astype(np.float32)
    scores[rng.random(size=n) < 0.05] = np.nan
    with np.errstate(all="ignore"):     # the overflows and 0/0 are the point here
        for threshold in (0.4, 0.0, -0.5, 1.0):
            assert_same_keep(boxes, scores, threshold)


@pytest.mark.parametrize("threshold", [0.4, np.float32(0.4), np.float64(0.4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_other_dtypes_and_threshold_types(dtype, threshold):
    rng = np.random.default_rng(7)
    boxes = clustered_boxes(rng, 5 * NMS_ROW_BLOCK, np.float64).astype(dtype)
    scores = rng.uniform(0, 1, size=len(boxes))
    assert_same_keep(boxes, scores, threshold)


def test_no_boxes():
    assert_same_keep(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.4)


# Real network outputs: the native fp32 model at one thread, as the accuracy step runs it.

@pytest.fixture(scope="module")
def mini_set_outputs(assets, asset_file):
    """(key, raw outputs, input hw, scale) of every mini-set image, computed once."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = torch_runner(load_scrfd_500m_kps(asset_file("scrfd/SCRFD_500M_KPS.pth")))
        return [(key, [np.asarray(out) for out in run(blob)], blob.shape[2:], scale)
                for key, blob, scale in WiderFaceTask(assets).letterboxed()]
    finally:
        torch.set_num_threads(previous)


def test_real_outputs_decode_identically(mini_set_outputs):
    threshold = DetectorSettings().score_threshold
    for key, outputs, hw, _ in mini_set_outputs:
        for got, expected in zip(decode(outputs, hw, threshold),
                                 reference_decode(outputs, hw, threshold), strict=True):
            assert got.dtype == expected.dtype, key
            np.testing.assert_array_equal(got, expected, err_msg=key)


def test_real_outputs_postprocess_identically(mini_set_outputs):
    settings = DetectorSettings()
    candidates = kept = 0
    for key, outputs, hw, scale in mini_set_outputs:
        boxes, scores, _ = reference_decode(outputs, hw, settings.score_threshold)
        assert_same_keep(boxes / np.float32(scale), scores, settings.nms_iou)
        got = postprocess(outputs, hw, scale, settings.score_threshold, settings.nms_iou)
        expected = reference_postprocess(outputs, hw, scale, settings.score_threshold,
                                         settings.nms_iou)
        for name, a, b in zip(("boxes", "scores", "keypoints"), got, expected, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, (key, name)
            assert a.tobytes() == b.tobytes(), (key, name)
        candidates += len(scores)
        kept += len(got[1])
    assert len(mini_set_outputs) == 100
    assert kept < candidates and candidates > 100 * NMS_ROW_BLOCK  # many blocks, real suppression
