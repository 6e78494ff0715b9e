"""What a recipe receives and returns.

A recipe is a plain function ``recipe(ctx: RecipeContext) -> Artifact``: it takes the fp32
source model (and, if it needs them, calibration inputs), writes its result into
``ctx.out_dir`` and returns the artifact. The pipeline caches that folder by content, so a
recipe never worries about reuse, progress bars across runs, or where files go.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from compbench.artifacts import Artifact, artifact_in
from compbench.assets import Assets
from compbench.tasks.base import Task
from compbench.variants import ModelSpec

Recipe = Callable[["RecipeContext"], Artifact]


def resolve(reference: str) -> Callable:
    """``"package.module:function"`` → the function (imported lazily, only when used)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass
class RecipeContext:
    model: ModelSpec
    compression: str
    out_dir: Path
    task: Task
    assets: Assets
    seed: int = 0

    def source_model(self) -> Any:
        """A fresh fp32 reference model (recipes may modify it in place)."""
        return resolve(self.model.source)(self.assets)

    def save_torch(self, module) -> Artifact:
        import torch

        artifact = artifact_in(self.out_dir, "torch")
        torch.save(module.eval(), artifact.path)
        return artifact
