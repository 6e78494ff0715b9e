"""Short, reproducible fine-tuning of a tf_keras classifier on CIFAR-10 train images.

Shared by the tfmot recipes (clustering, pruning): both wrap the fp32 model and need a few
hundred optimizer steps to recover the accuracy the wrapping cost. Everything that decides the
result is fixed: the image subset (every k-th train image, class-balanced), the order (seeded
permutations), the flips (seeded) and the TF seed, so a rebuild reproduces the same weights on
the same machine.

Targets: by default the fp32 model itself is the teacher (its outputs on the same flipped
images are the soft targets), like the self-distillation of the PyTorch recipes. With the
dataset's labels instead, fine-tuning on the JPEG train copy adapts ResNet-8 (trained on the
original pixels) to JPEG artefacts and lifts its test top-1 by several points whatever the
compression does (docs/studies/design-measurements.md), so a compressed row would beat fp32 for a
reason unrelated to compression.
Distillation keeps the measured difference the compression's.

The loss follows the model's output: MLPerf Tiny ResNet-8 ends in a softmax (probabilities),
the in-repo MobileNetV2 in a plain Dense (logits); ``outputs_probabilities`` reads that from the
last layer instead of trusting the model name.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: tfmot needs tf_keras

import math  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import tf_keras  # noqa: E402
from tqdm import tqdm  # noqa: E402

from compbench.evaluation.cifar10 import fixed_subset  # noqa: E402


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 300              # optimizer steps (batches): the build-time knob
    batch_size: int = 64
    learning_rate: float = 1e-4   # Adam, cosine-decayed to 0 over ``steps``
    images: int = 10_000          # fixed class-balanced train subset
    flip: bool = True             # seeded horizontal flips (both models were trained with them)
    distill: bool = True          # soft targets from the fp32 model instead of the labels
    seed: int = 0


def outputs_probabilities(model) -> bool:
    """True if the model's last layer is a softmax (probabilities), False for logits."""
    last = model.layers[-1]
    if isinstance(last, tf_keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    if activation is None:
        return False
    return tf_keras.activations.serialize(activation) == "softmax"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class _Batches(tf_keras.utils.Sequence):
    """Deterministic batches: concatenated seeded permutations of the subset, seeded flips."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, preprocess, config: FinetuneConfig):
        super().__init__()
        self.images, self.preprocess = images, preprocess
        self.batch_size = config.batch_size
        rng = np.random.default_rng(config.seed)
        needed = config.steps * config.batch_size
        passes = math.ceil(needed / len(labels))
        self.order = np.concatenate([rng.permutation(len(labels)) for _ in range(passes)])[:needed]
        self.flips = (rng.random(needed) < 0.5) if config.flip else np.zeros(needed, bool)
        self.targets = labels[self.order]
        self.probabilities = False  # set by ``training_data`` from the source model

    def inputs(self, start: int, stop: int) -> np.ndarray:
        images = self.images[self.order[start:stop]].copy()
        flips = self.flips[start:stop]
        images[flips] = images[flips, :, ::-1]  # horizontal: N×H×W×C, W reversed
        return self.preprocess(images)

    def distill_from(self, teacher, probabilities: bool, chunk: int = 1024) -> None:
        """Replace the labels by the teacher's probabilities on exactly the images trained on."""
        outputs = [teacher.predict_on_batch(self.inputs(start, start + chunk))
                   for start in tqdm(range(0, len(self.order), chunk), desc="teacher targets",
                                     unit="chunk", leave=False)]
        outputs = np.concatenate(outputs).astype(np.float32)
        self.probabilities = probabilities
        self.targets = outputs if probabilities else _softmax(outputs)

    def __len__(self) -> int:
        return len(self.order) // self.batch_size

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop = index * self.batch_size, (index + 1) * self.batch_size
        return self.inputs(start, stop), self.targets[start:stop]


def training_data(source, task, config: FinetuneConfig) -> _Batches:
    """The fixed batches for fine-tuning a compressed copy of ``source``.

    Call it on the fp32 ``source`` *before* wrapping it (tfmot wrappers hide the last layer's
    activation and share the source's layers): it decides the loss from the output kind and, with
    ``config.distill``, records the fp32 outputs as targets.
    """
    subset = fixed_subset(task.train, config.images)
    batches = _Batches(subset.images, subset.labels, task.preprocess, config)
    batches.probabilities = outputs_probabilities(source)
    if config.distill:
        batches.distill_from(source, batches.probabilities)
    return batches


def finetune(model, batches: _Batches, config: FinetuneConfig,
             callbacks: Sequence = ()) -> list[float]:
    """Compile ``model`` with a fresh Adam and train it over ``batches``; the loss."""
    tf_keras.utils.set_random_seed(config.seed)
    from_logits = not batches.probabilities
    loss = (tf_keras.losses.CategoricalCrossentropy(from_logits=from_logits) if config.distill
            else tf_keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    schedule = tf_keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps)
    model.compile(optimizer=tf_keras.optimizers.Adam(schedule), loss=loss)
    history = model.fit(batches, epochs=1, shuffle=False, callbacks=list(callbacks), verbose=0)
    return [float(v) for v in history.history["loss"]]
