"""Mechanics of the PyTorch compression recipes on the real SCRFD_500M_KPS, at small inputs.

Fast checks only (no AP, no full training): the pruning surgery, the sparsity masks, the
self-distillation loop and the quantized module types and pickling. Accuracy is the bench's job.
"""

from __future__ import annotations

import copy
import io

import cv2
import numpy as np
import pytest
import torch

from compression import magnitude_sparsity, self_distillation, torch_int8_ptq
from models.scrfd import letterbox, load_scrfd_500m_kps

SIZE = 160   # small square inputs keep every test fast; the network is fully convolutional
# (N, C) per output at SIZE x SIZE: scores, boxes, keypoints for strides 8, 16, 32.
SHAPES = [(2 * (SIZE // s) ** 2, c) for c in (1, 4, 10) for s in (8, 16, 32)]


@pytest.fixture(scope="module")
def fp32_model(asset_file):
    torch.set_num_threads(2)
    return load_scrfd_500m_kps(asset_file("scrfd/SCRFD_500M_KPS.pth")).eval()


@pytest.fixture(scope="module")
def calib_blobs(asset_dir) -> torch.Tensor:
    paths = sorted(asset_dir("widerface/calib/images").rglob("*.jpg"))[:4]
    blobs = [letterbox(cv2.imread(str(path), cv2.IMREAD_COLOR), SIZE)[0] for path in paths]
    return torch.from_numpy(np.concatenate(blobs))


def run(model, inputs: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model(inputs))


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("sparsity", [0.3, 0.6])
def test_sparsity_reaches_the_requested_fraction(fp32_model, calib_blobs, sparsity):
    model = copy.deepcopy(fp32_model)
    convs = magnitude_sparsity.apply_global_sparsity(model, sparsity)
    magnitude_sparsity.make_permanent(convs)
    assert magnitude_sparsity.zero_fraction(model) == pytest.approx(sparsity, abs=1e-3)
    assert not any(hasattr(conv, "weight_mask") for conv in convs)   # plain weights again
    for conv in convs:  # no layer is wiped out by the global threshold
        assert (conv.weight != 0).float().mean() > 0.15
    depthwise = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert all(bool((m.weight != 0).all()) for m in depthwise)
    outputs = run(model, calib_blobs[:1])
    assert [tuple(o.shape[1:]) for o in outputs] == SHAPES


def test_distillation_loss_is_zero_for_identical_outputs(fp32_model, calib_blobs):
    outputs = run(fp32_model, calib_blobs[:1])
    assert float(self_distillation.scrfd_distillation_loss(outputs, outputs)) == 0.0


def test_self_distillation_loss_decreases(fp32_model, calib_blobs):
    student = copy.deepcopy(fp32_model)
    generator = torch.Generator().manual_seed(0)  # a damaged student with something to learn
    with torch.no_grad():
        for weight in student.parameters():
            weight.add_(0.05 * torch.randn(weight.shape, generator=generator))
    student.eval()
    config = self_distillation.DistillConfig(steps=6, batch_size=2, crop=128, flip=False,
                                             lr=1e-3, warmup_steps=0, seed=0)
    inputs = calib_blobs[:2].half()
    before = self_distillation.evaluate_distance(student, fp32_model, inputs)
    losses = self_distillation.self_distill(student, fp32_model, inputs, config)
    assert len(losses) == 6
    assert self_distillation.evaluate_distance(student, fp32_model, inputs) < before


def test_crop_sampler_is_deterministic(calib_blobs):
    def batches(seed):
        sampler = self_distillation.CropSampler(calib_blobs.half(), 2, 64, True, seed)
        return [sampler.batch() for _ in range(3)]

    for first, second in zip(batches(0), batches(0), strict=True):
        assert torch.equal(first, second)
    assert batches(0)[0].shape == (2, 3, 64, 64)
    assert not all(torch.equal(a, b) for a, b in zip(batches(0), batches(1), strict=True))


def test_ptq_model_has_quantized_convs_and_pickles(fp32_model, calib_blobs):
    blobs = [calib_blobs[i:i + 1].numpy() for i in range(2)]
    quantized = torch_int8_ptq.quantize_ptq(fp32_model, blobs, len(blobs), (1, 3, SIZE, SIZE))
    kinds = {type(m) for m in quantized.modules()}
    assert torch.ao.nn.intrinsic.quantized.ConvReLU2d in kinds
    assert torch.ao.nn.quantized.Conv2d in kinds
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in quantized.modules())

    expected = run(quantized, calib_blobs[:1])
    buffer = io.BytesIO()
    torch_int8_ptq.dump_quantized(quantized, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False).eval()   # what the torch engine does
    got = run(loaded, calib_blobs[:1])
    assert [tuple(o.shape[1:]) for o in got] == SHAPES
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b)
    # scores stay float sigmoids (not 1/256-stepped quantized ones)
    assert all(o.dtype == torch.float32 for o in got)
