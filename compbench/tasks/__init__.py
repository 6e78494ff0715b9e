"""Tasks bind a model family to its data and accuracy protocol (WIDER FACE AP, CIFAR-10 top-1)."""

from __future__ import annotations

from compbench.assets import Assets
from compbench.tasks.base import Task


def create_task(name: str, assets: Assets) -> Task:
    if name == "widerface":
        from compbench.tasks.widerface import WiderFaceTask

        return WiderFaceTask(assets)
    raise ValueError(f"unknown task {name!r}")
