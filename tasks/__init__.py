"""Tasks bind a model family to its data and accuracy protocol (WIDER FACE AP, CIFAR-10 top-1)."""

from __future__ import annotations

from compbench.assets import Assets
from compbench.specs import ModelSpec, resolve
from tasks.base import Task


def create_task(model: ModelSpec, assets: Assets) -> Task:
    if model.task == "widerface":
        from tasks.widerface import WiderFaceTask

        return WiderFaceTask(assets)
    if model.task == "cifar10":
        from tasks.cifar10 import Cifar10Task

        return Cifar10Task(assets, resolve(model.preprocess)(assets), model.preprocess)
    raise ValueError(f"unknown task {model.task!r} of model {model.name}")
