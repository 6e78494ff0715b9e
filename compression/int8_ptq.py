"""``int8-ptq``: PyTorch static int8 post-training quantization, FX graph mode, x86 backend.

Why FX and not PT2E: the torch engine runs the pickled module in eager mode. FX's ``convert_fx``
swaps in real quantized modules (``torch.ao.nn.quantized.Conv2d`` / ``ConvReLU2d``, fbgemm/oneDNN
int8 kernels), which run several times faster than fp32 in eager. PT2E's ``convert_pt2e``
(torchao.quantization.pt2e, with the X86InductorQuantizer) instead produces a reference graph of
quantize -> dequantize -> fp32 conv that only becomes int8 kernels once lowered by
``torch.compile``/inductor; run eagerly it was slower than fp32, so it would benchmark the wrong
thing here (docs/studies/design-measurements.md).

What is quantized: everything ``get_default_qconfig_mapping("x86")`` covers (per-channel
symmetric int8 weights, uint8 activations calibrated with a histogram observer; BatchNorm folded
into the convolutions and ReLU fused), including the first conv and the head's predictor convs,
which are among the largest convolutions of the network. Kept in float: the score sigmoids only
(an elementwise op at the very end), because the quantized sigmoid has fixed 1/256 output steps,
which would collapse the ranking of the low-confidence faces the WIDER hard set is made of.
``FP32_MODULES`` lists modules to keep in float if a future model needs it.

Saving: FX's graph annotations are dropped (``make_picklable``) and the quantized convs pickled
through ``compbench.compression.torch_int8_ptq`` (``save_quantized``), see there.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from compbench.compression.base import RecipeContext, build_threads
from compbench.compression.torch_int8_ptq import save_quantized
from compbench.formats.artifacts import Artifact

BACKEND = "x86"
# Qualified module names kept in fp32 (none needed for SCRFD_500M_KPS, see the module docstring).
FP32_MODULES: tuple[str, ...] = ()


def qconfig_mapping(qat: bool = False, fp32_modules: Sequence[str] = FP32_MODULES):
    """The x86 default mapping (QAT variant for ``qat``), sigmoid and ``fp32_modules`` in float.

    QAT uses version 0 of the x86 QAT qconfig (``FakeQuantize`` modules around the same
    MovingAverage(PerChannel)MinMax observers) rather than the default version 1, whose fused
    observe + fake-quant op puts the per-channel weight scales slightly off the ones
    ``convert_fx`` computes from the same observer, so that most weights of a layer land on a
    different integer in the simulation than in the converted model
    (docs/studies/design-measurements.md): QAT would train against a grid the int8 model does not use.
    """
    from torch.ao.quantization import get_default_qat_qconfig_mapping, get_default_qconfig_mapping

    if qat:
        mapping = get_default_qat_qconfig_mapping(BACKEND, version=0)
    else:
        mapping = get_default_qconfig_mapping(BACKEND)
    mapping.set_object_type(torch.sigmoid, None)
    mapping.set_object_type(nn.Sigmoid, None)
    for name in fp32_modules:
        mapping.set_module_name(name, None)
    return mapping


def example_inputs(input_shape: Sequence[int]) -> tuple[torch.Tensor]:
    return (torch.zeros(tuple(input_shape)),)


def make_picklable(module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Drop the graph's type annotations so ``torch.save`` can pickle the GraphModule."""
    for node in module.graph.nodes:
        node.type = None
    module.recompile()
    return module


def calibrate(prepared: nn.Module, inputs: Iterable[np.ndarray], total: int | None,
              desc: str) -> None:
    with torch.no_grad():
        for blob in tqdm(inputs, total=total, desc=desc, unit="img"):
            prepared(torch.from_numpy(np.ascontiguousarray(blob, dtype=np.float32)))


def prepare_calibrated(model: nn.Module, inputs: Iterable[np.ndarray], total: int | None,
                       input_shape: Sequence[int] = (1, 3, 640, 640),
                       fp32_modules: Sequence[str] = FP32_MODULES,
                       desc: str = "calibrate int8-ptq") -> torch.fx.GraphModule:
    """``prepare_fx`` (BN folded, observers inserted) then observers fed with ``inputs``."""
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = BACKEND
    with warnings.catch_warnings():  # torch.ao deprecation notices: FX is still what runs fast
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model).eval(), qconfig_mapping(False, fp32_modules),
                              example_inputs(input_shape))
    calibrate(prepared, inputs, total, desc)
    return prepared


def quantize_ptq(model: nn.Module, inputs: Iterable[np.ndarray], total: int | None,
                 input_shape: Sequence[int] = (1, 3, 640, 640),
                 fp32_modules: Sequence[str] = FP32_MODULES) -> torch.fx.GraphModule:
    """fp32 module -> calibrated, converted int8 ``GraphModule`` (the input model is not touched)."""
    from torch.ao.quantization.quantize_fx import convert_fx

    prepared = prepare_calibrated(model, inputs, total, input_shape, fp32_modules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = convert_fx(prepared)
    return make_picklable(quantized.eval())


def int8_ptq(ctx: RecipeContext) -> Artifact:
    with build_threads():
        torch.manual_seed(ctx.seed)
        quantized = quantize_ptq(ctx.source_model(), ctx.calibration_inputs(),
                                 ctx.task.calibration_size, ctx.model.input_shape)
        return save_quantized(ctx, quantized)
