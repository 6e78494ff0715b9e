"""Real WIDER FACE assets: the ground truth reader, the image layout, and a full-val run.

The full-val run uses ~1 M synthetic predictions from a deterministic fake detector that
produces what real ones do: hits jittered around the 0.5 IoU boundary, duplicate hits, hits on
faces a setting ignores, random false positives, tied scores, and images with no detections or
no prediction entry at all. The literal reference takes ~45 s of CPU on all of val, so it is
compared on a deterministic 20 % of the images (a one-off full comparison agreed bit for bit).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from compbench.errors import AssetMissing
from compbench.evaluation.widerface import evaluate, list_images, load_ground_truth, write_predictions
from compbench.settings import REPO_ROOT
from tests.wider_reference import evaluate_reference

GT_FILES = ["wider_face_val.mat", "wider_easy_val.mat", "wider_medium_val.mat",
            "wider_hard_val.mat"]
PER_IMAGE = 300
REFERENCE_FRACTION = 0.2


def synthetic_predictions(ground_truth, seed: int = 0, per_image: int = PER_IMAGE
                          ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    predictions = {}
    for key, faces in ground_truth.boxes.items():
        kind = rng.random()
        if kind < 0.02:
            continue  # no entry at all
        if kind < 0.03:
            predictions[key] = np.zeros((0, 5))  # entry without detections
            continue
        # Hits: each face detected with probability 0.8, a fifth of those twice (duplicates).
        detected = faces[rng.random(len(faces)) < 0.8]
        detected = np.concatenate([detected, detected[rng.random(len(detected)) < 0.2]])
        size = np.maximum(detected[:, 2:4], 1.0)
        jitter = rng.normal(0.0, 0.12, size=(len(detected), 4)) * np.concatenate([size, size], 1)
        hits = detected + jitter
        hit_scores = rng.beta(5, 2, size=len(detected))
        # False positives anywhere in a 1024 x 1024 frame.
        n_false = max(per_image - len(hits), 0)
        xy = rng.uniform(0, 1000, size=(n_false, 2))
        wh = rng.uniform(2, 120, size=(n_false, 2))
        false_scores = rng.beta(2, 5, size=n_false)
        boxes = np.concatenate([np.concatenate([hits, hit_scores[:, None]], 1),
                                np.concatenate([xy, wh, false_scores[:, None]], 1)])
        if kind > 0.9:
            boxes[:, 4] = np.round(boxes[:, 4], 2)  # coarse scores: many ties
        predictions[key] = boxes[rng.permutation(len(boxes))]
    return predictions


@pytest.fixture(scope="module")
def gt_dir(asset_file):
    paths = [asset_file(f"widerface/eval_tools/ground_truth/{name}") for name in GT_FILES]
    return paths[0].parent


@pytest.fixture(scope="module")
def ground_truth(gt_dir):
    return load_ground_truth(gt_dir)


@pytest.fixture(scope="module")
def predictions(ground_truth):
    return synthetic_predictions(ground_truth)


@pytest.fixture(scope="module")
def full_val_aps(predictions, ground_truth):
    return evaluate(predictions, ground_truth, subset=False)


def test_ground_truth_matches_the_official_counts(ground_truth):
    assert len(ground_truth.boxes) == 3226
    assert len({key.split("/")[0] for key in ground_truth.boxes}) == 61
    assert sum(len(boxes) for boxes in ground_truth.boxes.values()) == 39708
    assert [ground_truth.face_count(s) for s in ("easy", "medium", "hard")] == [7211, 13319, 31958]
    first = ground_truth.boxes["0--Parade/0_Parade_marchingband_1_465"]
    assert first.dtype == np.float64 and first.shape == (126, 4)
    assert first[0].tolist() == [345.0, 211.0, 4.0, 4.0]
    # .mat keep lists are 1-based [31, 32, 125]; we store them 0-based.
    assert ground_truth.keep["hard"]["0--Parade/0_Parade_marchingband_1_465"].tolist() == [30, 31, 124]


def test_mini_set_images_and_face_counts(asset_dir, ground_truth):
    root = asset_dir("widerface/WIDER_val/images").parent
    images = list_images(root)
    assert list_images(root / "images") == images
    assert len(images) == 100 and all(path.is_file() for _, path in images)
    keys = [key for key, _ in images]
    assert all(key in ground_truth.boxes for key in keys)
    # The numbers the assets README gives for the embedded 100-image set.
    assert [ground_truth.face_count(s, keys) for s in ("easy", "medium", "hard")] == [306, 796, 2495]


def test_list_images_layout(tmp_path):
    for rel in ["images/1--Handshaking/b.jpg", "images/0--Parade/a.jpg", "images/0--Parade/.x.jpg",
                "images/0--Parade/notes.txt", "images/.hidden/c.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    expected = [("0--Parade/a", tmp_path / "images/0--Parade/a.jpg"),
                ("1--Handshaking/b", tmp_path / "images/1--Handshaking/b.jpg")]
    assert list_images(tmp_path) == expected
    assert list_images(tmp_path / "images") == expected
    with pytest.raises(AssetMissing, match="not found"):
        list_images(tmp_path / "missing")


def test_synthetic_set_is_full_size(predictions, ground_truth):
    total = sum(len(boxes) for boxes in predictions.values())
    assert 900_000 < total < 1_100_000
    assert len(predictions) < len(ground_truth.boxes)  # some images have no entry
    assert any(len(boxes) == 0 for boxes in predictions.values())


def test_full_val_aps_are_plausible(full_val_aps):
    # 80 % of faces detected with score ~Beta(5,2), false positives ~Beta(2,5): clearly
    # better than chance but far from perfect, and hard keeps the tiniest faces.
    assert set(full_val_aps) == {"easy", "medium", "hard"}
    for ap in full_val_aps.values():
        assert 0.05 < ap < 0.95


def test_vectorised_matches_literal_reference(predictions, ground_truth):
    """Subset mode on a deterministic 20 % of the images (all of val: ~45 s CPU, see above)."""
    rng = np.random.default_rng(1)
    keys = [key for key in ground_truth.boxes if rng.random() < REFERENCE_FRACTION]
    chosen = {key: predictions[key] for key in keys if key in predictions}
    fast = evaluate(chosen, ground_truth, subset=True, evaluated_keys=keys)
    slow = evaluate_reference(chosen, ground_truth, subset=True, evaluated_keys=keys)
    for setting in fast:
        assert fast[setting] == pytest.approx(slow[setting], abs=1e-6)


def test_written_files_through_cli_match_in_memory(tmp_path, predictions, gt_dir, full_val_aps):
    write_predictions(tmp_path, predictions)
    completed = subprocess.run(
        [sys.executable, "-m", "compbench.evaluation.widerface.cli", "--pred-dir", str(tmp_path),
         "--gt-dir", str(gt_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    from_cli = json.loads(completed.stdout.strip().splitlines()[-1])
    assert from_cli == full_val_aps  # exact: files round-trip float64 and JSON keeps repr
