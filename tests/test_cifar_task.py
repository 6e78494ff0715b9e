"""The CIFAR-10 task: batching does not change top-1, calibration never touches test images."""

from __future__ import annotations

import numpy as np
import torch

from compbench.evaluation.cifar10 import fixed_subset
from compbench.models.cifar.sources import resnet20, resnet20_preprocessor
from compbench.tasks.cifar10 import Cifar10Task


def test_batched_evaluation_equals_batch_one(assets, asset_file):
    asset_file("cifar10/test.zip")
    task = Cifar10Task(assets, resnet20_preprocessor(assets), "resnet20")
    task._test = fixed_subset(task.test, 300)
    model = resnet20(assets)

    def run(inputs: np.ndarray):
        with torch.inference_mode():
            return [model(torch.from_numpy(inputs)).numpy()]

    one = task.evaluate(run, "resnet20", batch_size=1)
    many = task.evaluate(run, "resnet20", batch_size=100)
    assert one == many
    assert 0.7 < one["top1"] < 0.9  # ResNet-20 on the JPEG copy: about 0.81


def test_calibration_comes_from_the_train_split(assets, asset_file):
    asset_file("cifar10/train.zip")
    task = Cifar10Task(assets, lambda images: images.astype(np.float32), "identity",
                       calibration_images=50)
    inputs = np.concatenate(list(task.calibration_inputs()))
    assert inputs.shape == (50, 32, 32, 3)
    subset = task.calibration_split()
    assert np.array_equal(inputs, subset.images.astype(np.float32))
    assert len(np.unique(subset.labels)) == 10  # class-balanced, not the first class only
    assert task.calibration_fingerprint()["train"] != task.fingerprint()["test"]
