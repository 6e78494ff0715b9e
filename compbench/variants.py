"""The test matrix as data: one row per (model, compression) with the engines it runs on.

Variant ids are ``<model>/<compression>/<engine>``. Adding a variant is one ``Row`` here plus one
recipe function (named by ``recipe`` as ``module:function``). Combinations that cannot work are
simply absent from the table, so nothing is skipped at run time for being impossible.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from compbench.errors import UnknownVariant


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str                 # evaluation protocol: "widerface" | "cifar10"
    source: str               # "module:function" building the fp32 reference (torch/keras/hf)
    weights: tuple[str, ...]  # asset files the source reads (their checksums key the cache)
    input_shape: tuple[int, ...]
    reference_engine: str     # the speed-up denominator within a model's group
    description: str
    preprocess: str = ""      # "module:function" uint8 NHWC images → model input (CIFAR task)


@dataclass(frozen=True)
class Row:
    model: str
    compression: str
    recipe: str               # "module:function" in compression/
    engines: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Variant:
    model: ModelSpec
    compression: str
    engine: str
    recipe: str
    description: str

    @property
    def id(self) -> str:
        return f"{self.model.name}/{self.compression}/{self.engine}"

    def __str__(self) -> str:
        return self.id


FP32_ENGINES = ("torch", "torchscript", "onnxruntime", "onnxruntime-1t", "openvino")

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("scrfd_500m_kps", "widerface", "models.scrfd.source:fp32_model",
                  ("scrfd/SCRFD_500M_KPS.pth",), (1, 3, 640, 640), "torch",
                  "SCRFD_500M_KPS face detector, WIDER FACE easy/medium/hard AP"),
    ]
}

QDQ_ENGINES = ("onnxruntime", "onnxruntime-1t", "openvino")

MATRIX: list[Row] = [
    Row("scrfd_500m_kps", "fp32", "compression.reference:fp32", FP32_ENGINES,
        "unmodified weights: the reference every other variant is compared with"),
    Row("scrfd_500m_kps", "int8-ptq", "compression.torch_int8_ptq:int8_ptq", ("torch",),
        "PyTorch static int8 PTQ (FX, x86 backend), calibrated on calib images"),
    Row("scrfd_500m_kps", "int8-qat", "compression.torch_int8_qat:int8_qat", ("torch",),
        "int8 QAT from the PTQ model, self-distilled from fp32 on calib images"),
    Row("scrfd_500m_kps", "int8-ort", "compression.ort_int8_static:int8_ort", QDQ_ENGINES,
        "onnxruntime static int8, QDQ, per-channel weights, MinMax calibration"),
    Row("scrfd_500m_kps", "int8-nncf", "compression.nncf_int8:int8_nncf", ("openvino",),
        "NNCF post-training int8 of the OpenVINO model"),
    Row("scrfd_500m_kps", "fp16-ov", "compression.openvino_fp16:fp16_ov", ("openvino",),
        "OpenVINO IR with fp16 weights"),
    Row("scrfd_500m_kps", "pruned", "compression.channel_pruning:pruned", FP32_ENGINES,
        "structured channel pruning (channels removed), self-distilled fine-tune"),
    Row("scrfd_500m_kps", "sparse", "compression.magnitude_sparsity:sparse", FP32_ENGINES,
        "unstructured magnitude pruning (zeros; pays off gzip-compressed)"),
    Row("scrfd_500m_kps", "distilled", "compression.review_kd:distilled", FP32_ENGINES,
        "ReviewKD from SCRFD_2.5G_KPS (ONNX teacher) into SCRFD_500M_KPS"),
]


def expand(matrix: list[Row] = MATRIX) -> list[Variant]:
    """Scope list → variants, in table order (the order of the report rows)."""
    return [Variant(MODELS[row.model], row.compression, engine, row.recipe, row.description)
            for row in matrix for engine in row.engines]


VARIANTS: dict[str, Variant] = {variant.id: variant for variant in expand()}


def get_variant(variant_id: str) -> Variant:
    try:
        return VARIANTS[variant_id]
    except KeyError:
        known = "\n  ".join(VARIANTS)
        raise UnknownVariant(f"unknown variant id {variant_id!r}. Known ids (`compbench variants`):"
                             f"\n  {known}") from None


def reference_of(variant: Variant) -> Variant:
    """The fp32 variant on the model's reference engine: the speed-up denominator."""
    return get_variant(f"{variant.model.name}/fp32/{variant.model.reference_engine}")


def resolve(reference: str) -> Callable:
    """``"package.module:function"`` → the function (imported only when a variant needs it)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def select(patterns: list[str] | None) -> list[Variant]:
    """Variants whose id contains any of ``patterns`` (all when empty)."""
    if not patterns:
        return list(VARIANTS.values())
    return [v for v in VARIANTS.values() if any(p in v.id for p in patterns)]
