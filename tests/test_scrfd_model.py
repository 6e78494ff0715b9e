"""Native SCRFD_500M_KPS against the official ONNX export, on real WIDER FACE images.

The reference ONNX was exported from the same checkpoint by the upstream code, so agreement to
float32 round-off proves the native port is the same function (architecture, activations,
upsampling, output layout), not merely a similar one.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from compbench.errors import AssetCorrupt, AssetMissing
from compbench.models.scrfd import (
    OUTPUT_NAMES,
    DetectorSettings,
    detect,
    export_onnx,
    letterbox,
    load_scrfd_500m_kps,
    torch_runner,
)

WEIGHTS = "scrfd/SCRFD_500M_KPS.pth"
REFERENCE_ONNX = "scrfd/scrfd_500m_kps.onnx"
# Landscape and portrait images (portrait ones pad on the right instead of the bottom).
IMAGES = (
    "0--Parade/0_Parade_Parade_0_102.jpg",
    "0--Parade/0_Parade_Parade_0_194.jpg",
    "2--Demonstration/2_Demonstration_Protesters_2_92.jpg",
    "7--Cheering/7_Cheering_Cheering_7_195.jpg",
)
# (N, C) per output at 640x640: scores, boxes, keypoints for strides 8, 16, 32.
EXPECTED_SHAPES = [(n, c) for c in (1, 4, 10) for n in (12800, 3200, 800)]


@pytest.fixture(scope="module", autouse=True)
def _pin_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def model(asset_file):
    return load_scrfd_500m_kps(asset_file(WEIGHTS))


@pytest.fixture(scope="module")
def reference(asset_file) -> ort.InferenceSession:
    return _session(asset_file(REFERENCE_ONNX))


@pytest.fixture(scope="module")
def images(asset_dir) -> dict[str, np.ndarray]:
    root = asset_dir("widerface/WIDER_val/images")
    loaded = {}
    for name in IMAGES:
        image = cv2.imread(str(root / name))
        assert image is not None, f"cannot read {root / name}"
        loaded[name] = image
    return loaded


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _ort_runner(session: ort.InferenceSession):
    def run(blob: np.ndarray) -> list[np.ndarray]:
        return session.run(list(OUTPUT_NAMES), {"images": blob})
    return run


def _max_abs_diffs(ours, theirs) -> list[float]:
    pairs = zip(ours, theirs, strict=True)
    return [float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in pairs]


def test_loaded_model_is_in_eval_mode(model):
    assert not model.training
    assert all(not m.training for m in model.modules())


@pytest.mark.parametrize("name", IMAGES)
def test_raw_outputs_match_reference_onnx(model, reference, images, name):
    blob, _ = letterbox(images[name], 640)
    ours = torch_runner(model)(blob)
    theirs = reference.run(list(OUTPUT_NAMES), {"images": blob})
    assert [o.shape for o in ours] == [(1, *s) for s in EXPECTED_SHAPES]
    assert [o.shape for o in theirs] == [o.shape for o in ours]
    diffs = _max_abs_diffs(ours, theirs)
    assert max(diffs) <= 1e-4, dict(zip(OUTPUT_NAMES, diffs, strict=True))
    # Non-trivial input: real faces make some anchors confident.
    assert max(float(s.max()) for s in ours[:3]) > 0.5


def test_batch_dimension_is_kept_and_independent(model, images):
    blobs = [letterbox(images[name], 640)[0] for name in IMAGES[:2]]
    with torch.inference_mode():
        batched = model(torch.from_numpy(np.concatenate(blobs)))
    single = torch_runner(model)(blobs[1])
    assert [tuple(o.shape) for o in batched] == [(2, *s) for s in EXPECTED_SHAPES]
    assert max(_max_abs_diffs([o[1:2] for o in batched], single)) <= 1e-5


# torch 2.13 deprecates TorchScript; scripting still has to work for the engines that consume it.
@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_torchscript_matches_eager(model, images):
    scripted = torch.jit.script(model)
    blob = torch.from_numpy(letterbox(images[IMAGES[2]], 640)[0])
    with torch.inference_mode():
        eager = model(blob)
        script = scripted(blob)
    assert len(script) == 9
    assert max(_max_abs_diffs(eager, script)) <= 1e-5


def test_onnx_export_matches_native(model, images, tmp_path):
    path = export_onnx(model, tmp_path / "scrfd.onnx", input_size=640, batch=2)
    graph = onnx.load(str(path)).graph
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES)
    blob = np.concatenate([letterbox(images[name], 640)[0] for name in IMAGES[1:3]])
    exported = _session(path).run(list(OUTPUT_NAMES), {"images": blob})
    native = torch_runner(model)(blob)
    assert [o.shape for o in exported] == [(2, *s) for s in EXPECTED_SHAPES]
    diffs = _max_abs_diffs(native, exported)
    assert max(diffs) <= 1e-4, dict(zip(OUTPUT_NAMES, diffs, strict=True))
    assert not model.training  # export must not leave the model in training mode


def test_detect_native_equals_reference_onnx(model, reference, images):
    image = images[IMAGES[0]]
    settings = DetectorSettings()
    ours = detect(torch_runner(model), image, settings)
    theirs = detect(_ort_runner(reference), image, settings)
    assert len(ours) > 10  # a parade: many faces
    assert len(ours) == len(theirs)
    # Scores tied to ~1e-7 may swap places between engines, so match detections as a set:
    # each of ours must have its own counterpart within the tolerances.
    box_gap = np.abs(ours.boxes[:, None, :] - theirs.boxes[None, :, :]).max(axis=2)
    match = box_gap.argmin(axis=1)
    assert len(np.unique(match)) == len(ours)
    assert box_gap[np.arange(len(ours)), match].max() <= 1e-2
    np.testing.assert_allclose(ours.scores, theirs.scores[match], rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.keypoints, theirs.keypoints[match], rtol=0, atol=1e-2)
    assert (match == np.arange(len(ours))).mean() > 0.99  # swaps are rare, not systematic
    height, width = image.shape[:2]
    confident = ours.boxes[ours.scores > 0.5]
    assert len(confident) > 0
    # Confident faces lie inside the original image: the letterbox scale was undone.
    assert confident[:, 0].min() > -5 and confident[:, 1].min() > -5
    assert confident[:, 2].max() < width + 5 and confident[:, 3].max() < height + 5


def test_truncated_weights_raise_asset_corrupt(asset_file, tmp_path):
    data = asset_file(WEIGHTS).read_bytes()
    broken = tmp_path / "SCRFD_500M_KPS.pth"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetCorrupt) as info:
        load_scrfd_500m_kps(broken)
    assert str(broken) in str(info.value)


def test_state_dict_that_does_not_fit_raises_asset_corrupt(asset_file, tmp_path):
    state = torch.load(asset_file(WEIGHTS), map_location="cpu", weights_only=True)["model"]
    state = dict(state)
    del state["neck.fpn_convs.0.bias"]
    state["bbox_head.stride_heads.0.cls_logits.weight"] = torch.zeros(4, 64, 3, 3)
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "mismatch.pth"
    torch.save({"model": state}, path)
    with pytest.raises(AssetCorrupt) as info:
        load_scrfd_500m_kps(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in ("neck.fpn_convs.0.bias", "cls_logits.weight", "extra.weight"):
        assert fragment in message


def test_missing_weights_raise_asset_missing(tmp_path):
    with pytest.raises(AssetMissing, match="nothing.pth"):
        load_scrfd_500m_kps(tmp_path / "nothing.pth")
