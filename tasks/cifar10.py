"""CIFAR-10 classifiers: top-1 on the whole test split, per-model preprocessing.

Calibration and fine-tuning use the train split (a fixed, class-balanced subset), never the
test images. Evaluation feeds batches where the artifact allows it (CIFAR artifacts get a
dynamic batch axis); the latency benchmark always times batch 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from tqdm import tqdm

from compbench.assets import Assets
from compbench.fingerprint import files_digest
from evaluation.cifar10 import CifarSplit, fixed_subset, load_cifar10, top1_accuracy
from tasks.base import RunFn, Task, checked

Preprocess = Callable[[np.ndarray], np.ndarray]  # uint8 N×32×32×3 RGB → model input batch

CALIBRATION_IMAGES = 500


class Cifar10Task(Task):
    name = "cifar10"
    metrics = ("top1",)

    def __init__(self, assets: Assets, preprocess: Preprocess, preprocess_name: str,
                 calibration_images: int = CALIBRATION_IMAGES):
        self.assets = assets
        self.preprocess = preprocess
        self.preprocess_name = preprocess_name
        self.calibration_images = calibration_images
        self.test_zip = assets.file("cifar10/test.zip")
        self.train_zip = assets.file("cifar10/train.zip")
        self._test: CifarSplit | None = None
        self._train: CifarSplit | None = None
        self.data_description = ("CIFAR-10 test split, all 10 000 images of the embedded JPEG copy "
                                 "(quality ~75): accuracies are below published figures measured "
                                 "on the original binary batches.")

    @property
    def test(self) -> CifarSplit:
        if self._test is None:
            self._test = load_cifar10(self.test_zip.parent.parent, "test")
        return self._test

    @property
    def train(self) -> CifarSplit:
        if self._train is None:
            self._train = load_cifar10(self.train_zip.parent.parent, "train")
        return self._train

    def fingerprint(self) -> dict:
        return {"task": self.name, "test": files_digest([self.test_zip]),
                "preprocess": self.preprocess_name}

    def calibration_fingerprint(self) -> dict:
        return {"train": files_digest([self.train_zip]), "preprocess": self.preprocess_name,
                "calibration_images": self.calibration_images}

    def sample_input(self) -> np.ndarray:
        return self.preprocess(self.test.images[:1])

    @property
    def calibration_size(self) -> int:
        return self.calibration_images

    def calibration_split(self) -> CifarSplit:
        """Class-balanced, fixed subset of the train split (recipes that fine-tune use more)."""
        return fixed_subset(self.train, self.calibration_images)

    def calibration_inputs(self) -> Iterator[np.ndarray]:
        split = self.calibration_split()
        for index in range(len(split)):
            yield self.preprocess(split.images[index:index + 1])

    def evaluate(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, float]:
        safe_run = checked(run, label)
        test = self.test
        logits = []
        for start in tqdm(range(0, len(test), batch_size), desc=f"CIFAR-10 {label}",
                          unit="batch", leave=False, mininterval=1.0):
            outputs = safe_run(self.preprocess(test.images[start:start + batch_size]))
            logits.append(np.asarray(outputs[0]).reshape(-1, np.asarray(outputs[0]).shape[-1]))
        return {"top1": top1_accuracy(np.concatenate(logits), test.labels)}
