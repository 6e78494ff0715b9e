"""The built-in suite: SCRFD_500M_KPS and the CIFAR-10 models, one row per (model, compression)
with the engines it runs on.

Declared through the same public API a team uses for its own models (``compbench.runner.hookspec``):
this module is a plugin that this repository's pyproject.toml names, and its hook adds the
models and rows below to the session's ``compbench.runner.matrix.Matrix``. Adding a variant is one
``Row`` here plus one recipe function (named by ``recipe`` as ``module:function``).
"""

from __future__ import annotations

from compbench.runner.hookspec import hookimpl
from compbench.runner.matrix import Matrix
from compbench.runner.matrix import expand as expand_rows
from compbench.specs import ModelSpec, Row, Variant

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
        ModelSpec(
            name="scrfd_500m_kps",
            task="widerface",
            source="models.scrfd.source:fp32_model",
            weights=("scrfd/SCRFD_500M_KPS.pth",),
            input_shape=(1, 3, 640, 640),
            reference_engine="torch",
            description="SCRFD_500M_KPS face detector, WIDER FACE easy/medium/hard AP",
        ),
        ModelSpec(
            name="resnet20",
            task="cifar10",
            source="models.cifar.sources:resnet20",
            weights=("cifar10/models/resnet20-12fca82f.th",),
            input_shape=(1, 3, 32, 32),
            reference_engine="torch",
            description="CIFAR-10 ResNet-20 (PyTorch), top-1",
            preprocess="models.cifar.sources:resnet20_preprocessor",
            eval_batch=CIFAR_BATCH,
        ),
        ModelSpec(
            name="resnet8",
            task="cifar10",
            source="models.cifar.sources:resnet8",
            weights=("cifar10/models/mlperf_tiny_resnet8.h5",),
            input_shape=(1, 32, 32, 3),
            reference_engine="keras",
            description="MLPerf Tiny ResNet-8 (Keras), top-1",
            preprocess="models.cifar.sources:resnet8_preprocessor",
            requires=KERAS,
            eval_batch=CIFAR_BATCH,
        ),
        ModelSpec(
            name="mobilenetv2",
            task="cifar10",
            source="models.cifar.sources:mobilenetv2",
            weights=("repo:models/cifar/weights/mobilenetv2_cifar10.h5",),
            input_shape=(1, 32, 32, 3),
            reference_engine="keras",
            description="MobileNetV2 (α 0.35, CIFAR stem) trained here (Keras), top-1",
            preprocess="models.cifar.sources:mobilenetv2_preprocessor",
            requires=KERAS,
            eval_batch=CIFAR_BATCH,
        ),
        ModelSpec(
            name="vit",
            task="cifar10",
            source="models.cifar.sources:vit",
            weights=("repo:models/cifar/weights/vit_cifar10",),
            input_shape=(1, 3, 32, 32),
            reference_engine="torch",
            description="small ViT trained here (transformers ViTForImageClassification), top-1",
            preprocess="models.cifar.sources:vit_preprocessor",
            requires=("torch", "transformers"),
            eval_batch=CIFAR_BATCH,
        ),
    ]
}

QDQ_ENGINES = ("onnxruntime", "onnxruntime-1t", "openvino")

# the tfmot rows' fine-tune rates, as scripts/select_keras_finetune.py chose them on held-out
# train images (compression/selection/<model>-<compression>.json: candidates, criterion, machine)
SELECTED_LEARNING_RATE = {
    ("resnet8", "clustered-16"): 1e-4,
    ("resnet8", "clustered-32"): 1e-5,
    ("resnet8", "pruned-50"): 2e-3,
    ("mobilenetv2", "clustered-16"): 3e-4,
    ("mobilenetv2", "clustered-32"): 3e-5,
    ("mobilenetv2", "pruned-50"): 5e-4,
}

MATRIX: list[Row] = [
    Row(
        model="scrfd_500m_kps",
        compression="fp32",
        recipe="compression.fp32:fp32",
        engines=FP32_ENGINES,
        description="unmodified weights: the reference every other variant is compared with",
    ),
    # not on torch-compile: quantized::* ops take packed-weight ScriptObjects, which Dynamo cannot
    # trace ("Unsupported: Failed to convert args/kwargs to proxy")
    Row(
        model="scrfd_500m_kps",
        compression="int8-ptq",
        recipe="compression.int8_ptq:int8_ptq",
        engines=("torch",),
        description="PyTorch static int8 PTQ (FX, x86 backend), calibrated on calib images",
        cpu_dependent_accuracy=True,
    ),
    # not on torch-compile either (int8 FX modules, as above)
    Row(
        model="scrfd_500m_kps",
        compression="int8-qat",
        recipe="compression.int8_qat:int8_qat",
        engines=("torch",),
        description="int8-ptq's model fine-tuned quantization-aware, self-distilled from fp32",
        cpu_dependent_accuracy=True,
        cpu_model_dependent_accuracy=True,
        params={"steps": 400, "lr": 2e-5},
    ),  # compression/selection/scrfd_500m_kps-int8-qat.json
    Row(
        model="scrfd_500m_kps",
        compression="int8-ort",
        recipe="compression.int8_ort:int8_ort",
        engines=QDQ_ENGINES,
        description="onnxruntime static int8, QDQ, per-channel weights, MinMax calibration",
        requires=("onnxruntime",),
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="scrfd_500m_kps",
        compression="int8-nncf",
        recipe="compression.int8_nncf:int8_nncf",
        engines=("openvino",),
        description="NNCF post-training int8 of the OpenVINO model",
        requires=("nncf",),
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="scrfd_500m_kps",
        compression="fp16-ov",
        recipe="compression.fp16_ov:fp16_ov",
        engines=("openvino",),
        description="OpenVINO IR with fp16 weights",
    ),
    Row(
        model="scrfd_500m_kps",
        compression="sparse",
        recipe="compression.sparse:sparse",
        engines=FP32_ENGINES,
        description="unstructured magnitude pruning (zeros; pays off gzip-compressed)",
        params={
            "sparsity": 0.6,
            "unnormalised_sparsity": 0.3,
            "min_weights": 16384,
            "steps": 300,
            "lr": 5e-5,
        },
    ),
    # lr: compression/selection/scrfd_500m_kps-sparse.json (held-out, label-free)
    Row(
        model="scrfd_500m_kps",
        compression="pruned",
        recipe="compression.pruned:pruned",
        engines=FP32_ENGINES,
        description="structured channel pruning (layer4 288 -> 184 channels), self-distilled",
        params={"blocks": "backbone.layer4.*", "ratio": 0.375, "steps": 500, "lr": 2e-5},
    ),
    # lr: compression/selection/scrfd_500m_kps-pruned.json (held-out, label-free)
    # -- chains: a recipe run on another row's artifact (Row.after), so techniques compose --
    # ratio 0.2 is set by the size target alone (int8 file <= 724 KB, 3.7x below fp32's 2.68
    # MB): pruning layer4 by 0.15 / 0.2 / 0.25 keeps 81.5 / 74.9 / 68.6 % of the parameters,
    # i.e. ~679 / 623 / 571 KB at int8; 0.2 is the mildest with a 10 % margin. No AP was read.
    Row(
        model="scrfd_500m_kps",
        compression="pruned-20",
        recipe="compression.pruned:pruned",
        engines=("torch",),
        description="structured channel pruning (layer4 288 -> 232 channels), self-distilled; "
        "the chains' base",
        params={"blocks": "backbone.layer4.*", "ratio": 0.2, "steps": 500, "lr": 2e-5},
    ),
    # lr: compression/selection/scrfd_500m_kps-pruned-20.json (held-out, label-free)
    Row(
        model="scrfd_500m_kps",
        compression="pruned-20+int8-ort",
        recipe="compression.int8_ort:int8_ort",
        engines=("onnxruntime", "openvino"),
        description="pruned-20, then onnxruntime static int8 (QDQ)",
        requires=("onnxruntime",),
        cpu_dependent_accuracy=True,
        after="pruned-20",
    ),
    Row(
        model="scrfd_500m_kps",
        compression="pruned-20+int8-nncf",
        recipe="compression.int8_nncf:int8_nncf",
        engines=("openvino",),
        description="pruned-20, then NNCF post-training int8",
        requires=("nncf",),
        cpu_dependent_accuracy=True,
        after="pruned-20",
    ),
    Row(
        model="scrfd_500m_kps",
        compression="pruned-20+int8-qat",
        recipe="compression.int8_qat:int8_qat",
        engines=("torch",),
        description="pruned-20, then quantization-aware fine-tune self-distilled from pruned-20",
        cpu_dependent_accuracy=True,
        cpu_model_dependent_accuracy=True,
        params={"steps": 400, "lr": 2e-5},
        after="pruned-20",
    ),  # int8-qat's selection
    Row(
        model="scrfd_500m_kps",
        compression="pruned+int8-ort",
        recipe="compression.int8_ort:int8_ort",
        engines=("onnxruntime",),
        description="pruned, then onnxruntime static int8 (QDQ): the smallest point",
        requires=("onnxruntime",),
        cpu_dependent_accuracy=True,
        after="pruned",
    ),
    Row(
        model="scrfd_500m_kps",
        compression="distilled",
        recipe="compression.distilled:distilled",
        engines=FP32_ENGINES,
        description="ReviewKD from SCRFD_2.5G_KPS (ONNX teacher) into SCRFD_500M_KPS",
        requires=("onnxruntime",),
        inputs=("scrfd/scrfd_2.5g_kps.onnx",),
        params={"steps": 300, "student_lr": 2e-5},
    ),
    # -- CIFAR-10 ResNet-20 (PyTorch): the detector's generic recipes ----------------------
    Row(
        model="resnet20",
        compression="fp32",
        recipe="compression.fp32:fp32",
        engines=FP32_ENGINES,
        description="unmodified weights",
    ),
    # not on torch-compile: quantized::* ops take packed-weight ScriptObjects, which Dynamo cannot
    # trace ("Unsupported: Failed to convert args/kwargs to proxy")
    Row(
        model="resnet20",
        compression="int8-ptq",
        recipe="compression.int8_ptq:int8_ptq",
        engines=("torch",),
        description="PyTorch static int8 PTQ (FX, x86 backend), calibrated on train images",
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="resnet20",
        compression="int8-ort",
        recipe="compression.int8_ort:int8_ort",
        engines=QDQ_ENGINES,
        description="onnxruntime static int8, QDQ",
        requires=("onnxruntime",),
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="resnet20",
        compression="int8-nncf",
        recipe="compression.int8_nncf:int8_nncf",
        engines=("openvino",),
        description="NNCF post-training int8 of the OpenVINO model",
        requires=("nncf",),
        cpu_dependent_accuracy=True,
    ),
    # -- Keras CIFAR-10 models: TF Model Optimization + TFLite --------------------------------
    # learning rates: chosen on held-out train images by scripts/select_keras_finetune.py,
    # each choice with its candidates in compression/selection/<model>-<compression>.json
    # fine-tuning steps per model: each cold build within ~3 minutes on a shared 2-core machine
    # (ResNet-8 ~0.1 s/step, MobileNetV2 ~0.5 s/step there)
    *(
        row
        for model, cluster_steps, prune_steps in (("resnet8", 300, 500), ("mobilenetv2", 200, 250))
        for row in [
            Row(
                model=model,
                compression="fp32",
                recipe="compression.fp32:fp32",
                engines=KERAS_ENGINES,
                description="unmodified weights",
            ),
            *(
                Row(
                    model=model,
                    compression=f"clustered-{n}",
                    recipe="compression.clustered:clustered",
                    engines=KERAS_ENGINES,
                    description=f"tfmot weight clustering, {n} clusters (k-means++), fine-tuned, stripped",
                    requires=TFMOT,
                    cpu_dependent_accuracy=True,
                    params={
                        "clusters": n,
                        "steps": cluster_steps,
                        "learning_rate": SELECTED_LEARNING_RATE[(model, f"clustered-{n}")],
                    },
                )
                for n in (16, 32)
            ),
            Row(
                model=model,
                compression="pruned-50",
                recipe="compression.tfmot_pruning:pruned",
                engines=KERAS_ENGINES,
                description="tfmot magnitude pruning to 50 % sparsity, fine-tuned, stripped",
                requires=TFMOT,
                cpu_dependent_accuracy=True,
                params={
                    "sparsity": 0.5,
                    "steps": prune_steps,
                    "learning_rate": SELECTED_LEARNING_RATE[(model, "pruned-50")],
                },
            ),
            Row(
                model=model,
                compression="int8-tflite",
                recipe="compression.int8_tflite:int8_tflite",
                engines=("tflite",),
                description="TFLite full-integer PTQ with a representative dataset (train images)",
                cpu_dependent_accuracy=True,
            ),
        ]
    ),
    # -- Hugging Face ViT: Optimum on onnxruntime and OpenVINO ---------------------------------
    Row(
        model="vit",
        compression="fp32",
        recipe="compression.fp32:fp32",
        engines=("torch", "torch-compile"),
        description="unmodified weights",
    ),
    Row(
        model="vit",
        compression="onnx-export",
        recipe="compression.optimum_ort:onnx_export",
        engines=("onnxruntime", "onnxruntime-1t"),
        description="Optimum ONNX export, no optimisation",
        requires=OPTIMUM,
    ),
    Row(
        model="vit",
        compression="ort-O2",
        recipe="compression.optimum_ort:optimized",
        engines=("onnxruntime",),
        description="ORTOptimizer level O2 (basic + extended fusions)",
        requires=OPTIMUM,
        params={"level": "O2"},
    ),
    Row(
        model="vit",
        compression="ort-O3",
        recipe="compression.optimum_ort:optimized",
        engines=("onnxruntime",),
        description="ORTOptimizer level O3 (O2 + GELU approximation)",
        requires=OPTIMUM,
        params={"level": "O3"},
    ),
    Row(
        model="vit",
        compression="int8-dynamic",
        recipe="compression.optimum_ort:int8_dynamic",
        engines=("onnxruntime",),
        description="ORTQuantizer dynamic int8 (weights int8, activations quantized at run time)",
        requires=OPTIMUM,
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="vit",
        compression="int8-static",
        recipe="compression.optimum_ort:int8_static",
        engines=("onnxruntime",),
        description="ORTQuantizer static int8, calibrated on train images",
        requires=OPTIMUM,
        cpu_dependent_accuracy=True,
    ),
    Row(
        model="vit",
        compression="int8-ov",
        recipe="compression.optimum_openvino:int8_ov",
        engines=("openvino",),
        description="optimum-intel + NNCF post-training int8 on OpenVINO",
        requires=("optimum-intel", "nncf"),
        cpu_dependent_accuracy=True,
    ),
]


@hookimpl
def compbench_declare(matrix: Matrix) -> None:
    """The built-in suite, declared like any project's (this repository's pyproject.toml names
    this module under ``[tool.compbench] plugins``)."""
    for model in MODELS.values():
        matrix.add_model(model)
    for row in MATRIX:
        matrix.add_row(row)


def expand(rows: list[Row] = MATRIX) -> list[Variant]:
    """The built-in rows' variants (what ``compbench.runner.matrix.expand`` makes of them)."""
    return expand_rows(MODELS, rows)

