"""The Keras CIFAR-10 classifiers: MLPerf Tiny ResNet-8 and a CIFAR-sized MobileNetV2.

Both are built with ``tf_keras`` (Keras 2) because tensorflow-model-optimization only understands
Keras 2 functional models; for the same reason MobileNetV2 uses only stock layers (no Lambda,
no subclassing) so QAT/pruning wrappers can be applied layer by layer.

``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported so that ``tf.keras`` inside tfmot
resolves to the same Keras 2 as ``tf_keras`` here. If TensorFlow was imported earlier without it,
the caller has to set it themselves.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tf_keras  # noqa: E402
from tf_keras import layers  # noqa: E402

from compbench.errors import AssetCorrupt, AssetMissing  # noqa: E402

# (expansion, output channels at width 1.0, repeats, first stride): the MobileNetV2 table with
# the stem and the 160-channel stage at stride 1, because a 32×32 input downsampled 32× as on
# ImageNet would leave a 1×1 map. Resolution here: 32 → 16 (24 ch) → 8 (32 ch) → 4 (64 ch on).
MOBILENETV2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 1),
    (6, 320, 1, 1),
)


def load_keras_model(path: Path | str, what: str) -> tf_keras.Model:
    """A saved tf_keras model (architecture + weights) ready for inference."""
    path = Path(path)
    if not path.is_file():
        raise AssetMissing(f"{what} not found: {path}.")
    try:
        return tf_keras.models.load_model(path, compile=False)
    except Exception as exc:  # h5py / Keras raise many unrelated types for a damaged file
        raise AssetCorrupt(f"cannot load {what} from {path}: {exc}. Replace it with a fresh copy.") \
            from exc


def load_resnet8(path: Path | str) -> tf_keras.Model:
    """MLPerf Tiny ResNet-8 from its .h5; its outputs are softmax probabilities."""
    return load_keras_model(path, "MLPerf Tiny ResNet-8 (Keras .h5)")


def load_mobilenetv2(path: Path | str) -> tf_keras.Model:
    """The MobileNetV2 trained by scripts/train_mobilenetv2.py (full-model .h5); outputs logits."""
    return load_keras_model(path, "CIFAR MobileNetV2 (Keras .h5)")


def resnet8_preprocess(images: np.ndarray) -> np.ndarray:
    """MLPerf Tiny trained on raw 0..255 pixels with no normalisation."""
    return np.asarray(images, dtype=np.float32)


def mobilenetv2_preprocess(images: np.ndarray) -> np.ndarray:
    """Scale to [-1, 1] like Keras' MobileNetV2 convention, so ReLU6 ranges stay familiar."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def _divisible(channels: float, divisor: int = 8) -> int:
    """Round to a multiple of 8 without losing >10 %: MobileNetV2's SIMD-friendly widths."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _inverted_residual(x, expansion: int, filters: int, stride: int, name: str):
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = _conv_bn(y, in_channels * expansion, 1, 1, f"{name}_expand")
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               name=f"{name}_dw")(y)
    y = layers.BatchNormalization(momentum=0.9, name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = _conv_bn(y, filters, 1, 1, f"{name}_project", relu=False)
    if stride == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def build_mobilenetv2(width_multiplier: float = 0.35, input_size: int = 32,
                      num_classes: int = 10, last_channels: int = 256) -> tf_keras.Model:
    """MobileNetV2 sized for CIFAR: stride-1 stem, three downsamplings, logits output.

    ``last_channels`` replaces ImageNet's fixed 1280-wide head, which alone would hold most of
    the parameters of a 0.35-wide model and push the weight file past the repository's 2 MB limit.
    """
    inputs = layers.Input((input_size, input_size, 3), name="image")
    x = _conv_bn(inputs, _divisible(32 * width_multiplier), 3, 1, "stem")
    for stage, (expansion, channels, repeats, stride) in enumerate(MOBILENETV2_STAGES):
        filters = _divisible(channels * width_multiplier)
        for block in range(repeats):
            x = _inverted_residual(x, expansion, filters, stride if block == 0 else 1,
                                   f"s{stage}b{block}")
    x = _conv_bn(x, last_channels, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return tf_keras.Model(inputs, outputs, name=f"mobilenetv2_cifar_{width_multiplier:g}")
