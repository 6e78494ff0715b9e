"""The test matrix as data: one row per (model, compression) with the engines it runs on.

Variant ids are ``<model>/<compression>/<engine>``. Adding a variant is one ``Row`` here plus one
recipe function (named by ``recipe`` as ``module:function``). Combinations that cannot work are
simply absent from the table, so nothing is skipped at run time for being impossible.
"""

from __future__ import annotations

from dataclasses import replace

from compbench.errors import UnknownVariant
from compbench.specs import ModelSpec, Row, Variant, resolve  # noqa: F401 - re-exported

FP32_ENGINES = ("torch", "torch-compile", "torchscript", "onnxruntime", "onnxruntime-1t", "openvino")
KERAS_ENGINES = ("keras", "tflite", "openvino")
# ``requires`` values are distributions, spelled as pyproject.toml's extras spell them (a
# model's are part of its recipes' cache keys).
KERAS = ("tensorflow", "tf_keras")
CIFAR_BATCH = 100  # evaluation batch for the 10 000 test images (latency is timed at batch 1)
TFMOT = ("tensorflow-model-optimization",)
OPTIMUM = ("optimum-onnx", "onnxruntime")  # optimum-onnx provides optimum.onnxruntime

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("scrfd_500m_kps", "widerface", "models.scrfd.source:fp32_model",
                  ("scrfd/SCRFD_500M_KPS.pth",), (1, 3, 640, 640), "torch",
                  "SCRFD_500M_KPS face detector, WIDER FACE easy/medium/hard AP"),
        ModelSpec("resnet20", "cifar10", "models.cifar.sources:resnet20",
                  ("cifar10/models/resnet20-12fca82f.th",), (1, 3, 32, 32), "torch",
                  "CIFAR-10 ResNet-20 (PyTorch), top-1",
                  "models.cifar.sources:resnet20_preprocessor", eval_batch=CIFAR_BATCH),
        ModelSpec("resnet8", "cifar10", "models.cifar.sources:resnet8",
                  ("cifar10/models/mlperf_tiny_resnet8.h5",), (1, 32, 32, 3), "keras",
                  "MLPerf Tiny ResNet-8 (Keras), top-1",
                  "models.cifar.sources:resnet8_preprocessor", KERAS, CIFAR_BATCH),
        ModelSpec("mobilenetv2", "cifar10", "models.cifar.sources:mobilenetv2",
                  ("repo:models/cifar/weights/mobilenetv2_cifar10.h5",), (1, 32, 32, 3), "keras",
                  "MobileNetV2 (α 0.35, CIFAR stem) trained here (Keras), top-1",
                  "models.cifar.sources:mobilenetv2_preprocessor", KERAS, CIFAR_BATCH),
        ModelSpec("vit", "cifar10", "models.cifar.sources:vit",
                  ("repo:models/cifar/weights/vit_cifar10",), (1, 3, 32, 32), "torch",
                  "small ViT trained here (transformers ViTForImageClassification), top-1",
                  "models.cifar.sources:vit_preprocessor", ("torch", "transformers"), CIFAR_BATCH),
    ]
}

QDQ_ENGINES = ("onnxruntime", "onnxruntime-1t", "openvino")

# the tfmot rows' fine-tune rates, as scripts/select_keras_finetune.py chose them on held-out
# train images (compression/selection/<model>-<compression>.json: candidates, criterion, machine)
SELECTED_LEARNING_RATE = {
    ("resnet8", "clustered-16"): 1e-4, ("resnet8", "clustered-32"): 1e-5,
    ("resnet8", "pruned-50"): 2e-3,
    ("mobilenetv2", "clustered-16"): 3e-4, ("mobilenetv2", "clustered-32"): 3e-5,
    ("mobilenetv2", "pruned-50"): 5e-4,
}

MATRIX: list[Row] = [
    Row("scrfd_500m_kps", "fp32", "compression.fp32:fp32", FP32_ENGINES,
        "unmodified weights: the reference every other variant is compared with"),
    # not on torch-compile: quantized::* ops take packed-weight ScriptObjects, which Dynamo cannot
    # trace ("Unsupported: Failed to convert args/kwargs to proxy")
    Row("scrfd_500m_kps", "int8-ptq", "compression.int8_ptq:int8_ptq", ("torch",),
        "PyTorch static int8 PTQ (FX, x86 backend), calibrated on calib images",
        cpu_dependent_accuracy=True),
    # not on torch-compile either (int8 FX modules, as above)
    Row("scrfd_500m_kps", "int8-qat", "compression.int8_qat:int8_qat", ("torch",),
        "int8-ptq's model fine-tuned quantization-aware, self-distilled from fp32",
        cpu_dependent_accuracy=True, cpu_model_dependent_accuracy=True,
        params={"steps": 400, "lr": 2e-5}),   # compression/selection/scrfd_500m_kps-int8-qat.json
    Row("scrfd_500m_kps", "int8-ort", "compression.int8_ort:int8_ort", QDQ_ENGINES,
        "onnxruntime static int8, QDQ, per-channel weights, MinMax calibration",
        ("onnxruntime",),
        cpu_dependent_accuracy=True),
    Row("scrfd_500m_kps", "int8-nncf", "compression.int8_nncf:int8_nncf", ("openvino",),
        "NNCF post-training int8 of the OpenVINO model", ("nncf",),
        cpu_dependent_accuracy=True),
    Row("scrfd_500m_kps", "fp16-ov", "compression.fp16_ov:fp16_ov", ("openvino",),
        "OpenVINO IR with fp16 weights"),
    Row("scrfd_500m_kps", "sparse", "compression.sparse:sparse", FP32_ENGINES,
        "unstructured magnitude pruning (zeros; pays off gzip-compressed)",
        params={"sparsity": 0.6, "unnormalised_sparsity": 0.3, "min_weights": 16384,
                "steps": 300, "lr": 5e-5}),
    # lr: compression/selection/scrfd_500m_kps-sparse.json (held-out, label-free)
    Row("scrfd_500m_kps", "pruned", "compression.pruned:pruned", FP32_ENGINES,
        "structured channel pruning (layer4 288 -> 184 channels), self-distilled",
        params={"blocks": "backbone.layer4.*", "ratio": 0.375, "steps": 500, "lr": 2e-5}),
    # lr: compression/selection/scrfd_500m_kps-pruned.json (held-out, label-free)
    # -- chains: a recipe run on another row's artifact (Row.after), so techniques compose --
    # ratio 0.2 is set by the size target alone (int8 file <= 724 KB, 3.7x below fp32's 2.68
    # MB): pruning layer4 by 0.15 / 0.2 / 0.25 keeps 81.5 / 74.9 / 68.6 % of the parameters,
    # i.e. ~679 / 623 / 571 KB at int8; 0.2 is the mildest with a 10 % margin. No AP was read.
    Row("scrfd_500m_kps", "pruned-20", "compression.pruned:pruned", ("torch",),
        "structured channel pruning (layer4 288 -> 232 channels), self-distilled; the chains' base",
        params={"blocks": "backbone.layer4.*", "ratio": 0.2, "steps": 500, "lr": 2e-5}),
    # lr: compression/selection/scrfd_500m_kps-pruned-20.json (held-out, label-free)
    Row("scrfd_500m_kps", "pruned-20+int8-ort", "compression.int8_ort:int8_ort",
        ("onnxruntime", "openvino"), "pruned-20, then onnxruntime static int8 (QDQ)",
        ("onnxruntime",), cpu_dependent_accuracy=True, after="pruned-20"),
    Row("scrfd_500m_kps", "pruned-20+int8-nncf", "compression.int8_nncf:int8_nncf", ("openvino",),
        "pruned-20, then NNCF post-training int8", ("nncf",), cpu_dependent_accuracy=True,
        after="pruned-20"),
    Row("scrfd_500m_kps", "pruned-20+int8-qat", "compression.int8_qat:int8_qat", ("torch",),
        "pruned-20, then quantization-aware fine-tune self-distilled from pruned-20",
        cpu_dependent_accuracy=True, cpu_model_dependent_accuracy=True,
        params={"steps": 400, "lr": 2e-5}, after="pruned-20"),   # int8-qat's selection
    Row("scrfd_500m_kps", "pruned+int8-ort", "compression.int8_ort:int8_ort", ("onnxruntime",),
        "pruned, then onnxruntime static int8 (QDQ): the smallest point", ("onnxruntime",),
        cpu_dependent_accuracy=True, after="pruned"),
    Row("scrfd_500m_kps", "distilled", "compression.distilled:distilled", FP32_ENGINES,
        "ReviewKD from SCRFD_2.5G_KPS (ONNX teacher) into SCRFD_500M_KPS", ("onnxruntime",),
        inputs=("scrfd/scrfd_2.5g_kps.onnx",), params={"steps": 300, "student_lr": 2e-5}),
    # -- CIFAR-10 ResNet-20 (PyTorch): the detector's generic recipes ----------------------
    Row("resnet20", "fp32", "compression.fp32:fp32", FP32_ENGINES, "unmodified weights"),
    # not on torch-compile: quantized::* ops take packed-weight ScriptObjects, which Dynamo cannot
    # trace ("Unsupported: Failed to convert args/kwargs to proxy")
    Row("resnet20", "int8-ptq", "compression.int8_ptq:int8_ptq", ("torch",),
        "PyTorch static int8 PTQ (FX, x86 backend), calibrated on train images",
        cpu_dependent_accuracy=True),
    Row("resnet20", "int8-ort", "compression.int8_ort:int8_ort", QDQ_ENGINES,
        "onnxruntime static int8, QDQ", ("onnxruntime",),
        cpu_dependent_accuracy=True),
    Row("resnet20", "int8-nncf", "compression.int8_nncf:int8_nncf", ("openvino",),
        "NNCF post-training int8 of the OpenVINO model", ("nncf",),
        cpu_dependent_accuracy=True),
    # -- Keras CIFAR-10 models: TF Model Optimization + TFLite --------------------------------
    # learning rates: chosen on held-out train images by scripts/select_keras_finetune.py,
    # each choice with its candidates in compression/selection/<model>-<compression>.json
    # fine-tuning steps per model: each cold build within ~3 minutes on a shared 2-core machine
    # (ResNet-8 ~0.1 s/step, MobileNetV2 ~0.5 s/step there)
    *(row for model, cluster_steps, prune_steps in (("resnet8", 300, 500), ("mobilenetv2", 200, 250))
      for row in [
        Row(model, "fp32", "compression.fp32:fp32", KERAS_ENGINES, "unmodified weights"),
        *(Row(model, f"clustered-{n}", "compression.clustered:clustered", KERAS_ENGINES,
              f"tfmot weight clustering, {n} clusters (k-means++), fine-tuned, stripped", TFMOT,
              cpu_dependent_accuracy=True,
              params={"clusters": n, "steps": cluster_steps,
                      "learning_rate": SELECTED_LEARNING_RATE[(model, f"clustered-{n}")]})
          for n in (16, 32)),
        Row(model, "pruned-50", "compression.tfmot_pruning:pruned", KERAS_ENGINES,
            "tfmot magnitude pruning to 50 % sparsity, fine-tuned, stripped", TFMOT,
            cpu_dependent_accuracy=True,
            params={"sparsity": 0.5, "steps": prune_steps,
                    "learning_rate": SELECTED_LEARNING_RATE[(model, "pruned-50")]}),
        Row(model, "int8-tflite", "compression.int8_tflite:int8_tflite", ("tflite",),
            "TFLite full-integer PTQ with a representative dataset (train images)",
        cpu_dependent_accuracy=True),
    ]),
    # -- Hugging Face ViT: Optimum on onnxruntime and OpenVINO ---------------------------------
    Row("vit", "fp32", "compression.fp32:fp32", ("torch", "torch-compile"), "unmodified weights"),
    Row("vit", "onnx-export", "compression.optimum_ort:onnx_export", ("onnxruntime", "onnxruntime-1t"),
        "Optimum ONNX export, no optimisation", OPTIMUM),
    Row("vit", "ort-O2", "compression.optimum_ort:optimized", ("onnxruntime",),
        "ORTOptimizer level O2 (basic + extended fusions)", OPTIMUM, params={"level": "O2"}),
    Row("vit", "ort-O3", "compression.optimum_ort:optimized", ("onnxruntime",),
        "ORTOptimizer level O3 (O2 + GELU approximation)", OPTIMUM, params={"level": "O3"}),
    Row("vit", "int8-dynamic", "compression.optimum_ort:int8_dynamic", ("onnxruntime",),
        "ORTQuantizer dynamic int8 (weights int8, activations quantized at run time)", OPTIMUM,
        cpu_dependent_accuracy=True),
    Row("vit", "int8-static", "compression.optimum_ort:int8_static", ("onnxruntime",),
        "ORTQuantizer static int8, calibrated on train images", OPTIMUM,
        cpu_dependent_accuracy=True),
    Row("vit", "int8-ov", "compression.optimum_openvino:int8_ov", ("openvino",),
        "optimum-intel + NNCF post-training int8 on OpenVINO", ("optimum-intel", "nncf"),
        cpu_dependent_accuracy=True),
]


def expand(matrix: list[Row] = MATRIX) -> list[Variant]:
    """Scope list → variants, in table order (the order of the report rows).

    A variant also needs what converting the model into its engine's format needs, and that
    depends on the route (torch reaches OpenVINO through ONNX, Keras directly): the edge
    modules on the route declare it, so it is derived here rather than kept as a second table.
    A row naming an engine that no route reaches fails here, at import, not mid-run.
    """
    from engines.registry import engine_config
    from formats.routes import requirements as conversion_requires

    def requires(model: ModelSpec, row: Row, engine: str) -> tuple[str, ...]:
        conversion = conversion_requires(engine_config(model.reference_engine).artifact_format,
                                         engine_config(engine).artifact_format)
        return tuple(dict.fromkeys(model.requires + row.requires + conversion))

    rows = {(row.model, row.compression): row for row in matrix}
    for row in matrix:
        if row.after and (row.model, row.after) not in rows:
            raise ValueError(f"row {row.model}/{row.compression} follows {row.after!r}, which "
                             f"is no row of {row.model}")

    def needs(row: Row) -> tuple[str, ...]:   # a chain needs what each of its steps needs
        return row.requires + (needs(rows[(row.model, row.after)]) if row.after else ())

    return [Variant(MODELS[row.model], row.compression, engine, row.recipe, row.description,
                    requires(MODELS[row.model], replace(row, requires=needs(row)), engine),
                    row.inputs, row.cpu_dependent_accuracy, row.params,
                    row.cpu_model_dependent_accuracy, row.after)
            for row in matrix for engine in row.engines]


VARIANTS: dict[str, Variant] = {variant.id: variant for variant in expand()}


def get_variant(variant_id: str) -> Variant:
    try:
        return VARIANTS[variant_id]
    except KeyError:
        known = "\n  ".join(VARIANTS)
        raise UnknownVariant(f"unknown variant id {variant_id!r}. Known ids (`compbench variants`):"
                             f"\n  {known}") from None


def upstream_of(variant: Variant) -> Variant | None:
    """In a chain, the variant whose recipe build is this one's source model (any engine of
    that row: a build does not depend on the engine)."""
    if not variant.after:
        return None
    prefix = f"{variant.model.name}/{variant.after}/"
    return next(v for v in VARIANTS.values() if v.id.startswith(prefix))


def reference_of(variant: Variant) -> Variant:
    """The fp32 variant on the model's reference engine: the speed-up denominator."""
    return get_variant(f"{variant.model.name}/fp32/{variant.model.reference_engine}")


def select(patterns: list[str] | None) -> list[Variant]:
    """Variants whose id contains any of ``patterns`` (all when empty)."""
    if not patterns:
        return list(VARIANTS.values())
    return [v for v in VARIANTS.values() if any(p in v.id for p in patterns)]
