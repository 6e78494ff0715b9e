"""Hand-computed WIDER FACE AP cases on tiny synthetic ground truth.

Every expected AP below is worked out by hand in the comments. Notation: scores are chosen in
[0, 1] with min 0 and max 1 (so normalisation leaves them alone) unless the case is about
normalisation. Threshold t (0..999) is ``1 - (t+1)/1000``; a score s passes from the first t
whose threshold is <= s, e.g. s = 1.0 from t = 0, s = 0.75 from t = 249, s = 0.5 from t = 499,
s = 0.0 only at t = 999. P = recalled / proposals, R = recalled / kept faces; AP sums
(R step) x (best precision at or after the step).

Each case is checked against both the vectorised evaluator and the literal loop reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from compbench.errors import CompbenchError, NonFiniteOutput
from compbench.evaluation.widerface import (
    UnknownImageError,
    WiderEvaluationError,
    WiderGroundTruth,
    evaluate,
    evaluate_detailed,
)
from compbench.evaluation.widerface.protocol import normalise_scores, thresholds
from tests.wider_reference import evaluate_reference

SETTINGS = ("easy", "medium", "hard")


def make_gt(images: dict[str, list[list[float]]],
            keep: dict[str, dict[str, list[int]]] | dict[str, list[int]] | None = None
            ) -> WiderGroundTruth:
    """``keep``: per setting per image 0-based kept faces, or per image (same for all
    settings); default: every face kept everywhere."""
    boxes = {key: np.array(faces, dtype=np.float64).reshape(-1, 4) for key, faces in images.items()}
    if keep is None:
        keep = {key: list(range(len(faces))) for key, faces in images.items()}
    if not set(keep) <= set(SETTINGS):
        keep = {setting: keep for setting in SETTINGS}
    return WiderGroundTruth(
        boxes=boxes,
        keep={s: {key: np.array(keep[s].get(key, []), dtype=np.int64) for key in boxes}
              for s in SETTINGS})


def preds(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def check(predictions, gt, expected: dict[str, float], **kwargs) -> None:
    fast = evaluate(predictions, gt, **kwargs)
    slow = evaluate_reference(predictions, gt, **kwargs)
    for setting, value in expected.items():
        assert fast[setting] == pytest.approx(value, abs=1e-12), setting
        assert slow[setting] == pytest.approx(value, abs=1e-12), setting


FACE_A = [0.0, 0.0, 10.0, 10.0]
FACE_B = [100.0, 100.0, 10.0, 10.0]
FAR = [500.0, 500.0, 10.0, 10.0]  # overlaps no face


def test_perfect_detector_scores_one():
    # Two kept faces, each hit exactly (score 1.0 and 0.0). t < 999: P = 1/1, R = 1/2;
    # t = 999: P = 2/2, R = 1. AP = 0.5 * 1 + 0.5 * 1 = 1.
    gt = make_gt({"e/a": [FACE_A, FACE_B]})
    check({"e/a": preds(FACE_A + [1.0], FACE_B + [0.0])}, gt,
          {"easy": 1.0, "medium": 1.0, "hard": 1.0})


def test_hit_on_ignored_face_is_not_a_proposal():
    # Faces: A (kept everywhere), B (ignored in easy, kept in medium / hard).
    # p0 hits B (1.0), p1 false positive (0.75), p2 hits A (0.5), p3 false positive (0.0).
    # easy (1 face): t 0-248 props 0 (p0 ignored); t 249-498 props 1, rec 0;
    #   t 499-998 props 2 (p1, p2), rec 1 -> P 1/2, R 1; t 999 P 1/3.
    #   AP = 1 * max(1/2, 1/3) = 0.5   (0.333... if p0 wrongly counted as a false positive).
    # medium (2 faces): t 0-248 P 1/1 R 1/2; t 249-498 P 1/2 R 1/2; t 499-998 P 2/3 R 1;
    #   t 999 P 2/4. AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
    gt = make_gt({"e/a": [FACE_A, FACE_B]},
                 {"easy": {"e/a": [0]}, "medium": {"e/a": [0, 1]}, "hard": {"e/a": [0, 1]}})
    p = preds(FACE_B + [1.0], FAR + [0.75], FACE_A + [0.5], FAR + [0.0])
    check({"e/a": p}, gt, {"easy": 0.5, "medium": 5 / 6, "hard": 5 / 6})


def test_second_hit_on_same_face_is_a_false_positive():
    # Kept faces A, B. p0 hits A (1.0), p1 hits A again (0.75), p2 hits B (0.5), p3 FP (0.0).
    # t 0-248 P 1/1 R 1/2; t 249-498 P 1/2 R 1/2 (duplicate counted); t 499-998 P 2/3 R 1;
    # t 999 P 2/4. AP = 0.5 * 1 + 0.5 * 2/3 = 5/6 (it would be 1.0 if duplicates were free).
    gt = make_gt({"e/a": [FACE_A, FACE_B]})
    duplicate = [0.5, 0.5, 10.0, 10.0]  # IoU with A: 10.5^2 / (2 * 121 - 10.5^2) = 0.84
    p = preds(FACE_A + [1.0], duplicate + [0.75], FACE_B + [0.5], FAR + [0.0])
    check({"e/a": p}, gt, {"easy": 5 / 6, "medium": 5 / 6, "hard": 5 / 6})


def test_images_without_predictions_or_faces():
    # a: one face hit by a score 0.5 prediction; b: one face, no prediction; c: no face, one
    # prediction scoring 1.0. Normalised over all: a -> 0.0, c -> 1.0.
    # Image c contributes nothing (no face), so t < 999: props 0; t 999: P 1/1.
    # Evaluating a, b, c: R = 1/2 -> AP 0.5 (0.25 if c's prediction were a false positive).
    # Evaluating only a, c (the keys with predictions): R = 1/1 -> AP 1.0.
    gt = make_gt({"e/a": [FACE_A], "e/b": [FACE_B], "e/c": []})
    p = {"e/a": preds(FACE_A + [0.5]), "e/c": preds(FAR + [1.0])}
    half = {"easy": 0.5, "medium": 0.5, "hard": 0.5}
    check(p, gt, half, subset=True, evaluated_keys=["e/a", "e/b", "e/c"])
    check(p, gt, half, subset=False)
    check({**p, "e/b": np.zeros((0, 5))}, gt, half)  # empty entry still counts its face
    check(p, gt, {"easy": 1.0, "medium": 1.0, "hard": 1.0}, subset=True)


def test_tied_scores_pass_thresholds_together():
    # One kept face. p0 FP (0.5) and p1 hit (0.5) tie; p2 FP (1.0), p3 FP (0.0).
    # t 0-498: props 1 rec 0; t 499-998: props 3 rec 1 -> P 1/3, R 1; t 999: P 1/4.
    # AP = 1/3, whichever of the tied boxes comes first in the file.
    gt = make_gt({"e/a": [FACE_A]})
    fp, hit = FAR + [0.5], FACE_A + [0.5]
    for order in ([fp, hit], [hit, fp]):
        p = preds(FAR + [1.0], *order, [900.0, 900.0, 5.0, 5.0, 0.0])
        check({"e/a": p}, gt, {"easy": 1 / 3, "medium": 1 / 3, "hard": 1 / 3})


def test_iou_ties_go_to_the_first_face():
    # Faces 0 and 1 are the same box (a duplicate annotation); the prediction has IoU 1 with
    # both and argmax takes face 0. easy keeps only face 1: the hit lands on ignored face 0,
    # so nothing is recalled -> AP 0. medium keeps both: 1 of 2 recalled at P 1 -> AP 0.5.
    gt = make_gt({"e/a": [FACE_A, FACE_A]},
                 {"easy": {"e/a": [1]}, "medium": {"e/a": [0, 1]}, "hard": {"e/a": [0]}})
    check({"e/a": preds(FACE_A + [0.9])}, gt, {"easy": 0.0, "medium": 0.5, "hard": 1.0})


def test_iou_uses_plus_one_pixel_convention_and_includes_half():
    # Face (0, 0, 9, 9): x2 = 9, area (9 - 0 + 1)^2 = 100. Prediction (0, 0, 4, 9): x2 = 4,
    # area 5 * 10 = 50, intersection 5 * 10 = 50 -> IoU 50 / (100 + 50 - 50) = 0.5 exactly,
    # a hit (>= 0.5) -> AP 1. Without the +1 it would be 36 / 81 = 0.44, a miss.
    gt = make_gt({"e/a": [[0.0, 0.0, 9.0, 9.0]]})
    check({"e/a": preds([0.0, 0.0, 4.0, 9.0, 0.9])}, gt,
          {"easy": 1.0, "medium": 1.0, "hard": 1.0})
    # Width 3.99: intersection 4.99 * 10 = 49.9 -> IoU 0.499, a miss -> AP 0.
    check({"e/a": preds([0.0, 0.0, 3.99, 9.0, 0.9])}, gt,
          {"easy": 0.0, "medium": 0.0, "hard": 0.0})


def test_scores_are_min_max_normalised_over_all_images():
    # Raw scores 30 (FP, image a), 20 (hit, image b), 10 (FP, image a) -> 1.0, 0.5, 0.0.
    # Image a has a face the FPs miss. t 0-498: props 1 rec 0; t 499-998: props 2, rec 1
    # -> P 1/2, R 1/2; t 999: P 1/3. AP = 0.5 * 0.5 = 0.25. (Thresholding raw scores would
    # pass all three everywhere: P 1/3 -> AP 1/6.)
    gt = make_gt({"e/a": [FACE_B], "e/b": [FACE_A]})
    p = {"e/a": preds(FAR + [30.0], FAR + [10.0]), "e/b": preds(FACE_A + [20.0])}
    check(p, gt, {"easy": 0.25, "medium": 0.25, "hard": 0.25})


def test_equal_scores_pass_every_threshold():
    # Both scores 0.7: max == min, every prediction is treated as normalised score 1.0.
    # Every t: props 2 (hit + FP), rec 1 -> P 1/2, R 1 -> AP 0.5.
    gt = make_gt({"e/a": [FACE_A]})
    check({"e/a": preds(FACE_A + [0.7], FAR + [0.7])}, gt,
          {"easy": 0.5, "medium": 0.5, "hard": 0.5})


def test_normalise_scores():
    assert normalise_scores(np.array([2.0, 4.0, 6.0])).tolist() == [0.0, 0.5, 1.0]
    assert normalise_scores(np.array([3.0, 3.0])).tolist() == [1.0, 1.0]
    assert normalise_scores(np.zeros(0)).shape == (0,)


def test_thresholds_are_the_official_ones():
    steps = thresholds()
    assert len(steps) == 1000
    assert steps[0] == 1 - 1 / 1000 and steps[249] == 0.75 and steps[999] == 0.0


def test_no_nan_when_nothing_is_found_or_nothing_is_kept():
    # Only false positives: precision 0 everywhere, recall 0 -> AP 0. A setting that keeps
    # no face at all has no recall denominator: AP 0.0 by definition, never NaN.
    gt = make_gt({"e/a": [FACE_A]}, {"easy": {}, "medium": {"e/a": [0]}, "hard": {"e/a": [0]}})
    result = evaluate_detailed({"e/a": preds(FAR + [0.9], FAR + [0.1])}, gt)
    assert result.aps == {"easy": 0.0, "medium": 0.0, "hard": 0.0}
    for setting in result.settings.values():
        assert np.isfinite(setting.precision).all() and np.isfinite(setting.recall).all()


def test_detailed_counts():
    # Same case as the ignored-face test, medium setting: counts per threshold band.
    gt = make_gt({"e/a": [FACE_A, FACE_B]},
                 {"easy": {"e/a": [0]}, "medium": {"e/a": [0, 1]}, "hard": {"e/a": [0, 1]}})
    p = preds(FACE_B + [1.0], FAR + [0.75], FACE_A + [0.5], FAR + [0.0])
    medium = evaluate_detailed({"e/a": p}, gt).settings["medium"]
    assert medium.face_count == 2
    assert medium.proposals[[0, 248, 249, 498, 499, 998, 999]].tolist() == [1, 1, 2, 2, 3, 3, 4]
    assert medium.recalled[[0, 248, 249, 498, 499, 998, 999]].tolist() == [1, 1, 1, 1, 2, 2, 2]
    easy = evaluate_detailed({"e/a": p}, gt).settings["easy"]
    assert easy.proposals[[0, 249, 499, 999]].tolist() == [0, 1, 2, 3]


def test_random_small_cases_match_literal_reference():
    # Dense clusters of faces, near-duplicate boxes, odd widths (negative, zero) and coarse
    # (tied) scores, checked against the reference with its pair-by-pair IoU loop.
    rng = np.random.default_rng(7)
    images, keep = {}, {s: {} for s in SETTINGS}
    predictions = {}
    for i in range(40):
        key = f"e/{i}"
        n_faces = int(rng.integers(0, 6))
        faces = np.column_stack([rng.uniform(0, 60, (n_faces, 2)), rng.uniform(-2, 25, (n_faces, 2))])
        images[key] = faces.round(0).tolist()
        for s, share in zip(SETTINGS, (0.3, 0.6, 0.9), strict=True):
            keep[s][key] = [j for j in range(n_faces) if rng.random() < share]
        n_pred = int(rng.integers(0, 12))
        if n_pred and rng.random() < 0.9:
            base = faces[rng.integers(0, n_faces, n_pred)] if n_faces else np.zeros((n_pred, 4))
            boxes = base + rng.normal(0, 2.5, (n_pred, 4))
            scores = rng.choice([0.1, 0.3, 0.5, 0.5, 0.7, 0.9], n_pred)
            predictions[key] = np.column_stack([boxes, scores])
    gt = make_gt(images, keep)
    for subset in (True, False):
        fast = evaluate(predictions, gt, subset=subset)
        slow = evaluate_reference(predictions, gt, subset=subset, literal_iou=True)
        for setting in SETTINGS:
            assert fast[setting] == pytest.approx(slow[setting], abs=1e-12)
        assert 0.0 < fast["hard"] < 1.0


def test_bad_predictions_are_rejected_clearly():
    gt = make_gt({"e/a": [FACE_A]})
    with pytest.raises(UnknownImageError, match="e/zzz"):
        evaluate({"e/zzz": preds(FACE_A + [1.0])}, gt)
    with pytest.raises(WiderEvaluationError, match=r"shape \(1, 4\)"):
        evaluate({"e/a": np.array([FACE_A])}, gt)
    with pytest.raises(NonFiniteOutput, match="e/a"):
        evaluate({"e/a": preds(FACE_A + [np.nan])}, gt)
    with pytest.raises(WiderEvaluationError, match="not among the evaluated"):
        evaluate({"e/a": preds(FACE_A + [1.0])}, gt, evaluated_keys=[])
    with pytest.raises(UnknownImageError, match="e/nope"):
        evaluate({}, gt, evaluated_keys=["e/nope"])
    with pytest.raises(CompbenchError, match="nothing to evaluate"):
        evaluate({}, gt)
    with pytest.raises(ValueError, match="subset"):
        evaluate({}, gt, subset=False, evaluated_keys=["e/a"])
