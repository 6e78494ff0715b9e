"""``int8-qat``: PyTorch int8 quantization-aware training (FX, x86 backend), self-distilled from fp32.

Same quantization scheme and kernels as ``int8-ptq`` (``int8_ptq``: x86 qconfig mappings,
sigmoids in float), so the two rows differ only by the training:

1. PTQ calibration, exactly as the ``int8-ptq`` recipe does it (``prepare_fx``, histogram
   observers, all calibration images).
2. ``prepare_qat_fx`` with the x86 QAT mapping (version 0, see ``qconfig_mapping``): BatchNorm
   fused into the convs as ``ConvBn(ReLU)2d`` QAT modules that fold it into the fake-quantized
   weights; each activation gets a fake quant. Their ranges are *loaded from step 1* (same graph,
   same observer names; checked), so training starts from the PTQ model: its histogram-optimised
   clipping ranges are better than the min/max ranges the QAT observers would measure.
3. Self-distillation (``self_distillation.self_distill``) from the frozen fp32 model with fake
   quantization on. Activation ranges stay at their PTQ values (the weights learn to live with
   that grid); the weights' per-channel ranges keep tracking the weights until ``OBSERVER_FREEZE``
   of the steps, then freeze so the last steps fine-tune against the final grid. BatchNorm
   statistics are frozen from the start: the batches are a few crops, too small for usable
   batch statistics, and the fp32 statistics are the right ones anyway.
4. ``convert_fx`` to real int8 modules, pickled like the PTQ model.

The simulation has to compute what the int8 kernels compute, or QAT optimises the wrong model.
Out of the box it did not, in two ways (each fixed here, each measured on SCRFD): the fused
fake-quant op's weight scales were off the converted ones (``qconfig_mapping``), and the
fake quants clipped activations at reduce_range's 127 where the kernels go to 255
(``load_activation_ranges``). With both, training lowered the simulated model's distance to fp32
but not the converted model's (AP equal to PTQ); now the two agree to rounding.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from torch import nn

from compbench.compression.base import RecipeContext, build_threads
from compbench.compression.int8_ptq import (
    BACKEND,
    example_inputs,
    make_picklable,
    prepare_calibrated,
    qconfig_mapping,
)
from compbench.compression.scrfd.distillation_loss import LossWeights, scrfd_distillation_loss
from compbench.compression.self_distillation import DistillConfig, self_distill, stack_inputs
from compbench.compression.torch_int8_ptq import save_quantized
from compbench.formats.artifacts import Artifact

QUINT8_RANGE = (0, 255)
OBSERVER_FREEZE = 0.7    # fraction of the steps after which the weight ranges stop moving
TRAINING = DistillConfig(batch_size=4, crop=320, warmup_steps=10, desc="QAT self-distillation")
# Anchors weighted by score: the loss weighting of the best of five early runs (picked on the
# mini evaluation set itself, docs/studies/design-measurements.md); the row's lr and steps are now
# chosen on held-out data (docs/how-to/choosing-parameters.md).
LOSS = LossWeights()


def _activation_nodes(graph_module: torch.fx.GraphModule) -> dict[str, str]:
    """activation_post_process module name -> the graph node it observes."""
    return {node.target: str(node.args[0]) for node in graph_module.graph.nodes
            if node.op == "call_module" and "activation_post_process" in str(node.target)}


def load_activation_ranges(qat: torch.fx.GraphModule, ptq: torch.fx.GraphModule) -> int:
    """Give ``qat``'s activation fake quants the qparams of ``ptq``'s calibrated observers.

    The integer range is also widened to the full quint8 range the int8 kernels actually clamp
    to: the x86 qconfig's ``reduce_range`` computes each scale for 0..127 (headroom against
    overflow in fbgemm's 16-bit accumulation), but a real quantized conv still writes outliers
    up to 255, where the stock fake quant would clip them at 127. Measured on SCRFD, that made
    part of each layer's outputs differ by many steps between the QAT simulation and the
    converted model (docs/studies/design-measurements.md), so what QAT learned did not
    transfer. The observer's min/max are set to the range the qparams represent on 0..255, so
    ``calculate_qparams`` (``convert_fx`` calls it) returns the very same scale and zero point.
    Returns the number of activations transferred; raises if the two graphs do not line up.
    """
    qat_nodes, ptq_nodes = _activation_nodes(qat), _activation_nodes(ptq)
    if qat_nodes != ptq_nodes:
        raise RuntimeError("PTQ and QAT graphs observe different activations; cannot transfer "
                           "the PTQ ranges")
    pairs = {}   # FX may route several observer names to one shared module: handle each once
    for name in qat_nodes:
        fake_quant = getattr(qat, name)
        pairs.setdefault(id(fake_quant), (name, getattr(ptq, name), fake_quant))
    for name, observer, fake_quant in pairs.values():
        target = fake_quant.activation_post_process
        if (observer.quant_min, observer.quant_max) != (target.quant_min, target.quant_max):
            raise RuntimeError(f"{name}: PTQ and QAT calibrate different integer ranges")
    for name, observer, fake_quant in pairs.values():
        target = fake_quant.activation_post_process
        scale, zero_point = observer.calculate_qparams()
        if target.dtype != torch.quint8:
            raise RuntimeError(f"{name}: expected quint8 activations, got {target.dtype}")
        target.quant_min, target.quant_max = QUINT8_RANGE
        fake_quant.quant_min, fake_quant.quant_max = QUINT8_RANGE
        with torch.no_grad():
            fake_quant.scale.copy_(scale)
            fake_quant.zero_point.copy_(zero_point)
            low = (target.quant_min - zero_point) * scale
            high = (target.quant_max - zero_point) * scale
            target.min_val.copy_(low.reshape(target.min_val.shape))
            target.max_val.copy_(high.reshape(target.max_val.shape))
    return len(pairs)


def _weight_fake_quants(module: nn.Module) -> list[nn.Module]:
    return [m.weight_fake_quant for m in module.modules() if hasattr(m, "weight_fake_quant")]


def int8_qat(ctx: RecipeContext, *, steps: int, lr: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): the self-distillation's steps and peak
    learning rate."""
    from torch.ao.nn.intrinsic.qat import freeze_bn_stats
    from torch.ao.quantization import disable_observer
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx

    with build_threads():
        torch.manual_seed(ctx.seed)
        torch.backends.quantized.engine = BACKEND
        teacher = ctx.source_model().eval()
        inputs = stack_inputs(ctx.calibration_inputs(), ctx.task.calibration_size,
                              "load calibration images")
        blobs = (inputs[i:i + 1].float().numpy().astype(np.float32) for i in range(len(inputs)))
        ptq = prepare_calibrated(teacher, blobs, len(inputs), ctx.model.input_shape,
                                 desc="calibrate int8-qat (PTQ ranges)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_qat_fx(copy.deepcopy(teacher).train(), qconfig_mapping(qat=True),
                                      example_inputs(ctx.model.input_shape))
        prepared.apply(freeze_bn_stats)
        load_activation_ranges(prepared, ptq)
        prepared.apply(disable_observer)                  # activations: fixed PTQ ranges
        for fake_quant in _weight_fake_quants(prepared):  # weights: ranges follow the weights
            fake_quant.enable_observer()

        training = replace(TRAINING, steps=steps, lr=lr, seed=ctx.seed)
        freeze_at = int(OBSERVER_FREEZE * training.steps)

        def on_step(step: int) -> None:
            if step == freeze_at:
                prepared.apply(disable_observer)

        self_distill(prepared, teacher, inputs, training, on_step=on_step,
                     loss_fn=partial(scrfd_distillation_loss, weights=LOSS))
        prepared.apply(disable_observer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantized = convert_fx(prepared.eval())
        return save_quantized(ctx, make_picklable(quantized.eval()))
