"""What a recipe receives and returns.

A recipe is a plain function ``recipe(ctx: RecipeContext) -> Artifact``: it takes its source
model — the fp32 reference, or in a chain (``Row.after``) the previous row's artifact — (and,
if it needs them, calibration inputs), writes its result into
``ctx.out_dir`` and returns the artifact. The pipeline caches that folder by content, so a
recipe never worries about reuse, progress bars across runs, or where files go.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compbench.assets import Assets
from compbench.formats.artifacts import Artifact, artifact_in
from compbench.isolation import STEP_THREADS
from compbench.specs import ModelSpec, resolve
from compbench.tasks.base import Task

Recipe = Callable[["RecipeContext"], Artifact]


@contextmanager
def build_threads() -> Iterator[int]:
    """Pin torch to the step processes' thread count (``STEP_THREADS``) for one build.

    The step process already starts with one thread per library; pinning again here keeps a
    build computing the same bits when a test or a script runs it in its own interpreter. One
    thread is also the faster choice for these small training steps on a shared 2-core machine
    (docs/studies/design-measurements.md), so builds run two at a time instead (``runner/prebuild.py``).
    The previous count is restored afterwards.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(STEP_THREADS)
    try:
        yield STEP_THREADS
    finally:
        torch.set_num_threads(previous)


@dataclass
class RecipeContext:
    model: ModelSpec
    compression: str
    out_dir: Path
    task: Task
    assets: Assets
    seed: int = 0
    source: Artifact | None = None   # a chain's input: the previous row's built artifact
    _scratch: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def source_model(self) -> Any:
        """A fresh copy of the model this recipe compresses (it may modify it in place): the
        fp32 reference, or in a chain the previous row's artifact, so that one recipe serves
        both (int8-ort of fp32 and int8-ort of the pruned model are one function)."""
        if self.source is None:
            return resolve(self.model.source)(self.assets)
        if self.source.format == "torch":
            import torch

            return torch.load(self.source.path, weights_only=False, map_location="cpu")
        if self.source.format == "keras":
            import tf_keras

            return tf_keras.models.load_model(self.source.path)
        raise ValueError(f"a chain step cannot start from a {self.source.format!r} artifact "
                         f"({self.source.path}): the row it follows must produce a source-format "
                         "model (torch or keras)")

    def scratch_dir(self) -> Path:
        """Room for intermediate files; ``out_dir`` is counted as the artifact's size."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="compbench-recipe-")
        return Path(self._scratch.name)

    def calibration_inputs(self, limit: int | None = None) -> Iterator[np.ndarray]:
        """Preprocessed calibration inputs (never evaluation images), at most ``limit``."""
        for index, inputs in enumerate(self.task.calibration_inputs()):
            if limit is not None and index >= limit:
                return
            yield inputs

    def fp32_onnx(self, module=None) -> Path:
        """The (source or given) torch model exported to ONNX in the scratch folder."""
        from compbench.formats.torch_to_onnx import convert

        torch_file = self.scratch_dir() / "source.pt"
        onnx_file = self.scratch_dir() / "source.onnx"
        import torch

        torch.save((module if module is not None else self.source_model()).eval(), torch_file)
        convert(torch_file, onnx_file, self.model.input_shape)
        return onnx_file

    def save_model(self, model) -> Artifact:
        """Save a source-format model: a torch module, a tf_keras model, or a CIFAR ViT
        (wrapped into a plain logits module in CIFAR class order)."""
        if type(model).__name__ == "CifarVit":
            from compbench.models.cifar.vit_logits import VitLogits

            model = VitLogits.wrap(model)
        if type(model).__module__.startswith(("tf_keras", "keras")):
            return self.save_keras(model)
        return self.save_torch(model)

    def save_keras(self, model) -> Artifact:
        artifact = artifact_in(self.out_dir, "keras")
        model.save(artifact.path, include_optimizer=False)
        return artifact

    def save_torch(self, module) -> Artifact:
        import torch

        artifact = artifact_in(self.out_dir, "torch")
        torch.save(module.eval(), artifact.path)
        return artifact
