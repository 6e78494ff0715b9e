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

from compbench.compression import (
    channel_pruning,
    int8_ptq,
    int8_qat,
    self_distillation,
    sparse,
    torch_int8_ptq,
)
from compbench.compression.scrfd import channel_groups
from compbench.compression.scrfd.distillation_loss import scrfd_distillation_loss
from compbench.models.scrfd import letterbox, load_scrfd_500m_kps
from compbench.models.scrfd.network import SCRFD
from compbench.runner.matrix import get_variant

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


def test_pruning_removes_channels_and_keeps_the_model_usable(fp32_model, calib_blobs):
    model = copy.deepcopy(fp32_model)
    groups = channel_groups.scrfd_channel_groups(model)
    stats = channel_pruning.consumer_input_stats(model, groups, calib_blobs[:2])
    widths = channel_groups.prune_scrfd(model, channel_groups.uniform_ratios(0.4, 0.4), stats)

    assert parameter_count(model) < 0.6 * parameter_count(fp32_model)
    assert widths["backbone.layer4.5"] == (288, 176)
    assert widths["bbox_head.stride_heads.0.conv_layers.1"] == (64, 40)
    assert model.backbone.layer4[5][3].out_channels == 176
    assert model.neck.lateral_convs[2].in_channels == 176
    assert model.bbox_head.stride_heads[0].kp_logits.in_channels == 40
    assert not any(m.training for m in model.modules())   # new modules kept the eval mode
    for name, module in model.named_modules():  # every surviving conv is a real, smaller conv
        if isinstance(module, torch.nn.Conv2d):
            assert module.weight.shape[0] == module.out_channels, name

    outputs = run(model, calib_blobs[:1])
    assert [tuple(o.shape[1:]) for o in outputs] == SHAPES
    scripted = torch.jit.freeze(torch.jit.script(copy.deepcopy(model).eval()))
    for got, want in zip(run(scripted, calib_blobs[:1]), outputs, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_recipe_ratios_prune_layer4_only():
    model = SCRFD().eval()
    params = dict(get_variant("scrfd_500m_kps/pruned/torch").params)
    widths = channel_groups.prune_scrfd(model, {params["blocks"]: params["ratio"]})
    changed = {name for name, (before, after) in widths.items() if after < before}
    assert changed == {f"backbone.layer4.{i}" for i in range(6)}
    assert model.neck.lateral_convs[2].in_channels == 184


def test_pruning_at_zero_ratio_reproduces_fp32_exactly(fp32_model, calib_blobs):
    model = copy.deepcopy(fp32_model)
    stats = channel_pruning.consumer_input_stats(
        model, channel_groups.scrfd_channel_groups(model), calib_blobs[:1])
    widths = channel_groups.prune_scrfd(model, channel_groups.uniform_ratios(0.0, 0.0), stats)
    assert all(before == after for before, after in widths.values())
    for got, want in zip(run(model, calib_blobs), run(fp32_model, calib_blobs), strict=True):
        assert torch.equal(got, want)


def test_reconstruction_brings_the_pruned_model_closer(fp32_model, calib_blobs):
    """Least-squares reconstruction of the consumers beats dropping the channels outright."""
    ratios = channel_groups.uniform_ratios(0.4, 0.4)
    plain = copy.deepcopy(fp32_model)
    channel_groups.prune_scrfd(plain, ratios)
    rebuilt = copy.deepcopy(fp32_model)
    stats = channel_pruning.consumer_input_stats(
        rebuilt, channel_groups.scrfd_channel_groups(rebuilt), calib_blobs)
    channel_groups.prune_scrfd(rebuilt, ratios, stats)
    def distance(model):
        return self_distillation.evaluate_distance(model, fp32_model, calib_blobs,
                                                   scrfd_distillation_loss)

    assert distance(rebuilt) < distance(plain)


def test_ratio_patterns_select_groups():
    groups = {g.name: g for g in channel_groups.scrfd_channel_groups(SCRFD())}
    ratios = {"bbox_head.stride_heads.0.*": 0.5, "bbox_head.*": 0.25}
    assert channel_pruning.ratio_for(groups["bbox_head.stride_heads.0.conv_layers.1"], ratios) == 0.5
    assert channel_pruning.ratio_for(groups["bbox_head.stride_heads.2.conv_layers.1"], ratios) == 0.25
    assert channel_pruning.ratio_for(groups["backbone.layer4.5"], ratios) == 0.0


def test_kept_count_rounds_up_to_simd_width():
    assert channel_pruning.kept_count(288, 0.4) == 176
    assert channel_pruning.kept_count(288, 0.375) == 184
    assert channel_pruning.kept_count(16, 0.4) == 16
    assert channel_pruning.kept_count(64, 0.0) == 64
    assert channel_pruning.kept_count(40, 0.9) == 8


@pytest.mark.parametrize("sparsity", [0.3, 0.6])
def test_sparsity_reaches_the_requested_fraction(fp32_model, calib_blobs, sparsity):
    model = copy.deepcopy(fp32_model)
    min_weights = dict(get_variant("scrfd_500m_kps/sparse/torch").params)["min_weights"]
    convs = sparse.apply_global_sparsity(model, sparsity, min_weights)
    sparse.make_permanent(convs)
    assert sparse.zero_fraction(model, min_weights) == pytest.approx(sparsity, abs=1e-3)
    assert not any(hasattr(conv, "weight_mask") for conv in convs)   # plain weights again
    for conv in convs:  # no layer is wiped out by the global threshold
        assert (conv.weight != 0).float().mean() > 0.15
    depthwise = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert all(bool((m.weight != 0).all()) for m in depthwise)
    small = [model.backbone.stem[0][0], model.backbone.layer1[1][3], model.neck.fpn_convs[0],
             model.bbox_head.stride_heads[0].kp_logits]   # below MIN_WEIGHTS: left dense
    assert all(bool((m.weight != 0).all()) for m in small)
    outputs = run(model, calib_blobs[:1])
    assert [tuple(o.shape[1:]) for o in outputs] == SHAPES


def test_distillation_loss_is_zero_for_identical_outputs(fp32_model, calib_blobs):
    outputs = run(fp32_model, calib_blobs[:1])
    assert float(scrfd_distillation_loss(outputs, outputs)) == 0.0


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
    loss = scrfd_distillation_loss
    before = self_distillation.evaluate_distance(student, fp32_model, inputs, loss)
    losses = self_distillation.self_distill(student, fp32_model, inputs, config, loss_fn=loss)
    assert len(losses) == 6
    assert self_distillation.evaluate_distance(student, fp32_model, inputs, loss) < before


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
    quantized = int8_ptq.quantize_ptq(fp32_model, blobs, len(blobs), (1, 3, SIZE, SIZE))
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


def test_qat_starts_from_the_ptq_ranges_and_converts_to_them(fp32_model, calib_blobs):
    from torch.ao.quantization import disable_observer
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx

    shape = (1, 3, SIZE, SIZE)
    blobs = [calib_blobs[i:i + 1].numpy() for i in range(2)]
    ptq = int8_ptq.prepare_calibrated(fp32_model, blobs, len(blobs), shape)
    qat = prepare_qat_fx(copy.deepcopy(fp32_model).train(), int8_ptq.qconfig_mapping(True),
                         int8_ptq.example_inputs(shape))
    assert int8_qat.load_activation_ranges(qat, ptq) > 40
    qat.apply(disable_observer)
    for fake_quant in int8_qat._weight_fake_quants(qat):
        fake_quant.enable_observer()
    run(qat, calib_blobs[:1])   # weight fake quants see their weights once, as in the recipe
    qat.apply(disable_observer)
    converted = convert_fx(copy.deepcopy(qat).eval())
    reference = convert_fx(copy.deepcopy(ptq))
    for name in ("backbone.stem.0.0", "backbone.layer4.5.3", "neck.lateral_convs.0"):
        got, want = converted.get_submodule(name), reference.get_submodule(name)
        assert got.scale == pytest.approx(want.scale, rel=1e-6), name
        assert got.zero_point == want.zero_point, name
    # the simulation clamps where the int8 kernels do (quint8 0..255), not at reduce_range's 127
    fake_quants = [getattr(qat, n) for n, _ in qat.named_children() if "activation_post_process" in n]
    assert fake_quants and all(m.activation_post_process.quant_max == 255 for m in fake_quants)
    # and its weight grid is the converted model's (the fused fake quant's was ~0.4 % off)
    fused = qat.get_submodule("backbone.layer2.0.3")
    folded = fused.weight * (fused.bn.weight / torch.sqrt(fused.bn.running_var + fused.bn.eps)
                             ).reshape(-1, 1, 1, 1)
    with torch.no_grad():
        simulated = fused.weight_fake_quant(folded)
    real = converted.get_submodule("backbone.layer2.0.3").weight().dequantize()
    assert float((simulated - real).abs().gt(1e-6).float().mean()) < 0.02
