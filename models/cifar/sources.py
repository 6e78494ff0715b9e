"""The fp32 CIFAR-10 reference models and their input preprocessing, as the variant table
names them (``ModelSpec.source`` / ``ModelSpec.preprocess``, both called with the assets).

Every preprocessor maps uint8 N×32×32×3 RGB to the float32 batch the model's engines consume
(NCHW for the PyTorch models, NHWC for Keras), so one CIFAR task serves all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from compbench.assets import Assets

Preprocess = Callable[[np.ndarray], np.ndarray]

# Weight references as the variant table lists them (asset relpath or repo:<path>); any of
# them can be swapped with --asset REF=PATH, e.g. a downloaded ViT fine-tuned on CIFAR-10.
RESNET20 = "cifar10/models/resnet20-12fca82f.th"
RESNET8 = "cifar10/models/mlperf_tiny_resnet8.h5"
MOBILENETV2 = "repo:models/cifar/weights/mobilenetv2_cifar10.h5"
VIT = "repo:models/cifar/weights/vit_cifar10"


# -- PyTorch ResNet-20 ----------------------------------------------------------------------
def resnet20(assets: Assets):
    from compbench.models.cifar.resnet20 import load_resnet20

    return load_resnet20(assets.weights(RESNET20))


def resnet20_preprocessor(assets: Assets) -> Preprocess:
    from compbench.models.cifar.resnet20 import to_tensor

    return lambda images: to_tensor(images).numpy()


# -- Keras ResNet-8 and MobileNetV2 ---------------------------------------------------------
def resnet8(assets: Assets):
    from compbench.models.cifar.keras_models import load_resnet8

    return load_resnet8(assets.weights(RESNET8))


def mobilenetv2(assets: Assets):
    from compbench.models.cifar.keras_models import load_mobilenetv2

    return load_mobilenetv2(assets.weights(MOBILENETV2))


def resnet8_preprocessor(assets: Assets) -> Preprocess:
    from compbench.models.cifar.keras_models import resnet8_preprocess

    return resnet8_preprocess


def mobilenetv2_preprocessor(assets: Assets) -> Preprocess:
    from compbench.models.cifar.keras_models import mobilenetv2_preprocess

    return mobilenetv2_preprocess


# -- Hugging Face ViT -----------------------------------------------------------------------
def vit(assets: Assets):
    """The loaded checkpoint (``CifarVit``: HF model, preprocessing, class order)."""
    from compbench.models.cifar.vit import load_vit

    return load_vit(assets.weights(VIT))


def vit_preprocessor(assets: Assets) -> Preprocess:
    """The checkpoint's own image processor settings (a fine-tune may resize to 224)."""
    preprocess = vit(assets).preprocess
    return lambda images: preprocess(images).numpy()
