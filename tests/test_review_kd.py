"""ReviewKD pieces: the exposed ONNX teacher, ABF fusion, HCL, response loss, a few train steps."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from compbench.compression.distilled import KDSettings, distill_losses, precompute, train
from compbench.compression.onnx_teacher import OnnxTeacher, TeacherOutputs
from compbench.compression.review_kd import ABF, ReviewFusion, hcl_loss
from compbench.compression.scrfd.onnx_teacher import scrfd_neck_outputs, scrfd_teacher
from compbench.compression.scrfd.review_kd import (
    content_extent,
    random_crops,
    response_loss,
    student_channels,
    student_forward,
)
from compbench.evaluation.widerface import list_images
from compbench.isolation import STEP_THREADS
from compbench.models.scrfd.network import SCRFD
from compbench.models.scrfd.preprocess import letterbox

TEACHER = "scrfd/scrfd_2.5g_kps.onnx"
STUDENT_ONNX = "scrfd/scrfd_500m_kps.onnx"
STUDENT_WEIGHTS = "scrfd/SCRFD_500M_KPS.pth"
CALIB = "widerface/calib/images"
STRIDES = (8, 16, 32)


@pytest.fixture(scope="module", autouse=True)
def _pin_threads():
    """One thread, as the recipe: on the shared machine two threads are many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(STEP_THREADS)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def calib_blob(asset_dir) -> np.ndarray:
    import cv2

    _, path = list_images(asset_dir(CALIB))[0]
    blob, _ = letterbox(cv2.imread(str(path), cv2.IMREAD_COLOR), 640)
    return blob


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# -- the ONNX teacher -------------------------------------------------------------------------
def test_exposed_teacher_keeps_outputs_and_adds_neck_maps(asset_file, calib_blob, tmp_path):
    source = asset_file(TEACHER)
    original = _session(source)
    expected = original.run(None, {"images": calib_blob})
    teacher = scrfd_teacher(source, tmp_path, threads=1)
    got = teacher(calib_blob)

    names = [o.name for o in teacher.session.get_outputs()]
    assert names[:9] == [o.name for o in original.get_outputs()]
    assert len(got.outputs) == 9 and len(got.features) == 3
    for want, have in zip(expected, got.outputs, strict=True):
        assert have.shape == want.shape
        # Exposing tensors can change which kernels onnxruntime fuses: round-off only.
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-5)
    channels = got.features[0].shape[1]
    for feature, stride in zip(got.features, STRIDES, strict=True):
        assert feature.shape == (1, channels, 640 // stride, 640 // stride)
        assert np.isfinite(feature).all() and feature.std() > 0


def test_teacher_any_input_size_runs_crops(asset_file, calib_blob, tmp_path):
    teacher = scrfd_teacher(asset_file(TEACHER), tmp_path, threads=1,
                                any_input_size=True)
    crop = np.ascontiguousarray(calib_blob[:, :, 64:384, 96:416])
    got = teacher(crop)
    for feature, stride in zip(got.features, STRIDES, strict=True):
        assert feature.shape[2:] == (320 // stride, 320 // stride)
    for k, stride in enumerate(STRIDES):
        anchors = (320 // stride) ** 2 * 2
        assert [o.shape for o in got.outputs[k::3]] == [(1, anchors, c) for c in (1, 4, 10)]


def test_neck_finder_matches_native_student_neck(asset_file, calib_blob, tmp_path):
    """On the student's own export the found tensors are exactly the native PAFPN outputs."""
    from compbench.models.scrfd.weights import load_scrfd_500m_kps

    onnx_path = asset_file(STUDENT_ONNX)
    model = load_scrfd_500m_kps(asset_file(STUDENT_WEIGHTS)).eval()
    exposed = OnnxTeacher(onnx_path, scrfd_neck_outputs(onnx_path), tmp_path, threads=1)
    with torch.no_grad():
        feats, _ = student_forward(model, torch.from_numpy(calib_blob))
    for have, want in zip(exposed(calib_blob).features, feats, strict=True):
        np.testing.assert_allclose(have, want.numpy(), rtol=1e-4, atol=1e-5)


# -- review mechanism and losses --------------------------------------------------------------
def _maps(channels: int, sizes=(40, 20, 10), batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, s, s, generator=generator) for s in sizes]


def test_hcl_zero_for_identical_and_positive_otherwise():
    maps = _maps(24)
    assert hcl_loss(maps, [m.clone() for m in maps]).item() == 0.0
    assert hcl_loss(maps, _maps(24, seed=1)).item() > 0.0
    shifted = [m + 0.1 for m in maps]  # a pure offset shows at every pooling level
    assert hcl_loss(maps, shifted).item() == pytest.approx(3 * 0.01, rel=1e-4)
    with pytest.raises(ValueError):
        hcl_loss(maps, _maps(16))


@pytest.mark.parametrize("sizes", [(40, 20, 10), (41, 21, 11)])
def test_review_fusion_shapes(sizes):
    fusion = ReviewFusion([16, 16, 16], [24, 24, 24])
    outs = fusion(_maps(16, sizes))
    assert [tuple(o.shape) for o in outs] == [(2, 24, s, s) for s in sizes]
    abf = ABF(16, 24, 24, fuse=True)
    out, fused = abf(_maps(16, (20,))[0], torch.randn(2, 24, 10, 10))
    assert out.shape == fused.shape == (2, 24, 20, 20)
    with pytest.raises(ValueError):
        abf(torch.randn(2, 16, 20, 20))


def test_response_loss_zero_for_identical_outputs():
    model = SCRFD().eval()
    with torch.no_grad():
        outputs = list(model(torch.randn(1, 3, 64, 64)))
    terms = response_loss(outputs, outputs)
    assert set(terms) == {"score", "box", "kps"}
    assert all(abs(v.item()) < 1e-6 for v in terms.values())
    other = [o + 0.3 if i >= 3 else o for i, o in enumerate(outputs)]
    moved = response_loss(outputs, other)
    assert moved["box"].item() > 0 and moved["kps"].item() > 0


def test_crops_stay_on_image_content():
    blob = np.full((1, 3, 640, 640), -127.5 / 128, np.float32)
    blob[:, :, :400, :600] = 0.25
    assert content_extent(blob) == (400, 600)
    crops = random_crops(blob, 320, 20, flip=True, rng=np.random.default_rng(0))
    assert all(c.shape == (1, 3, 320, 320) and (c == 0.25).all() for c in crops)


# -- training ---------------------------------------------------------------------------------
def _fake_teacher():
    """A random SCRFD with 24-channel neck standing in for the ONNX teacher (same interface)."""
    torch.manual_seed(1)
    net = SCRFD(neck_channels=24, head_channels=32).eval()

    def run(blob: np.ndarray) -> TeacherOutputs:
        with torch.no_grad():
            feats, outputs = student_forward(net, torch.from_numpy(blob))
        return TeacherOutputs([o.numpy() for o in outputs], [f.numpy() for f in feats])

    return run


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    settings = KDSettings(crop=64, crops_per_image=2, warmup_steps=15, steps=15, batch_size=4,
                          student_lr=1e-3, abf_lr=1e-3)
    blobs = [((rng.integers(0, 256, (1, 3, 96, 96)) - 127.5) / 128).astype(np.float32)
             for _ in range(4)]
    student = SCRFD().eval()
    data = precompute(_fake_teacher(), student, blobs, settings, rng)
    assert len(data) == 8 and [f.shape[1] for f in data.features] == [24, 24, 24]

    fusion = ReviewFusion(student_channels(student), [24, 24, 24])
    everything = data.batch(range(len(data)))

    def loss() -> float:
        student.eval()
        fusion.eval()
        with torch.no_grad():
            return distill_losses(student, fusion, everything, settings)["total"].item()

    before = loss()
    history = train(student, fusion, data, settings, rng, progress=False)
    after = loss()
    assert len(history) == settings.warmup_steps + settings.steps
    assert history[settings.warmup_steps - 1]["hcl"] < history[0]["hcl"]
    assert all(np.isfinite(h["total"]) for h in history)
    assert after < before
    assert not student.training and isinstance(student, SCRFD)


def test_teacher_checksum_keys_the_distilled_build(assets, tmp_path):
    """A different teacher file must rebuild the student, not reuse the cached one."""
    from compbench.cache import ArtifactCache
    from compbench.compression import distilled
    from compbench.runner.matrix import get_variant
    from compbench.runner.pipeline import VariantPipeline

    variant = get_variant("scrfd_500m_kps/distilled/onnxruntime")
    assert variant.inputs == (distilled.TEACHER,)
    key = VariantPipeline(variant, assets, ArtifactCache(tmp_path))
    key.prepare()
    teacher_digest = key.recipe_inputs["inputs"][distilled.TEACHER]
    assert teacher_digest == assets.weights_digest(distilled.TEACHER)
    plain = VariantPipeline(get_variant("scrfd_500m_kps/fp32/torch"), assets, ArtifactCache(tmp_path))
    plain.prepare()
    assert "inputs" not in plain.recipe_inputs   # rows without extra inputs keep their cache keys
