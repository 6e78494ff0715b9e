"""One variant, end to end, in the template steps of NNCF's conformance pipelines:

    prepare → compress → save → validate → benchmark

Every expensive step is cached by content (``ArtifactCache``), so the accuracy, size and
latency tests of one variant share one build, and a second session rebuilds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from compbench.artifacts import EDGE_IMPORTS, Artifact, artifact_in, convert_step, route
from compbench.assets import Assets
from compbench.cache import ArtifactCache, cache_key
from compbench.errors import EngineUnavailable
from compbench.fingerprint import code_fingerprint, library_versions, recipe_modules
from compbench.tasks import create_task
from compbench.tasks.base import Task
from compbench.variants import Variant
from engines.base import Engine, Session
from engines.registry import extras_for, get_engine, missing_packages

SEED = 0
FORMAT_FILE = ".format"  # hidden: not counted in the artifact size


@dataclass
class VariantPipeline:
    variant: Variant
    assets: Assets
    cache: ArtifactCache
    task: Task | None = None
    _session: Session | None = field(default=None, repr=False)

    # -- prepare ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Fail early and cheaply: engine installed, assets present, before any build."""
        _ = self.engine
        # Before the task: a CIFAR task builds the model's preprocessing, which imports the
        # model's framework (tf_keras, transformers) and would fail with an ImportError.
        missing = missing_packages(self.variant.requires)
        if missing:
            extras = ",".join(extras_for(missing))
            raise EngineUnavailable(
                f"{self.variant.id} needs the Python package(s) {', '.join(missing)} to build, "
                f"which are not installed. Install them with: pip install -e '.[{extras}]' "
                "-c constraints/known-good.txt")
        if self.task is None:
            self.task = create_task(self.variant.model, self.assets)
        for ref in self.variant.model.weights:
            self.assets.weights(ref)
        for ref in self.variant.inputs:
            self.assets.file(ref)

    @cached_property
    def engine(self) -> Engine:
        return get_engine(self.variant.engine)

    # -- compress --------------------------------------------------------------------------
    @cached_property
    def recipe_key(self) -> dict[str, Any]:
        model = self.variant.model
        recipe_module = self.variant.recipe.partition(":")[0]
        source_module = model.source.partition(":")[0].rpartition(".")[0]
        return {
            "model": model.name,
            "compression": self.variant.compression,
            "recipe": self.variant.recipe,
            "code": code_fingerprint([*recipe_modules(recipe_module), source_module]),
            "weights": {w: self.assets.weights_digest(w) for w in model.weights},
            "calibration": self.task.calibration_fingerprint(),
            "libraries": library_versions(self.variant.recipe_requires),
            "seed": SEED,
        } | self._inputs_key()

    def _inputs_key(self) -> dict[str, Any]:
        """Only rows with extra inputs get the entry, so the other rows' cache keys stay valid."""
        if not self.variant.inputs:
            return {}
        return {"inputs": {ref: self.assets.weights_digest(ref) for ref in self.variant.inputs}}

    def compress(self) -> Artifact:
        from compbench.variants import resolve
        from compression.base import RecipeContext

        def build(out_dir):
            ctx = RecipeContext(self.variant.model, self.variant.compression, out_dir,
                                self.task, self.assets, SEED)
            artifact = resolve(self.variant.recipe)(ctx)
            (out_dir / FORMAT_FILE).write_text(artifact.format)

        directory = self.cache.directory("recipes", self.recipe_key, build)
        return artifact_in(directory, (directory / FORMAT_FILE).read_text())

    # -- save (in the engine's format) -----------------------------------------------------
    @cached_property
    def _saved(self) -> tuple[Artifact, dict[str, Any]]:
        artifact = self.compress()
        key: dict[str, Any] = self.recipe_key
        dynamic = self.variant.model.eval_batch > 1
        for target in route(artifact.format, self.engine.config.artifact_format):
            key = {"from": cache_key(key), "to": target, "dynamic_batch": dynamic,
                   "code": code_fingerprint(["compbench.converters", "compbench.artifacts"]),
                   "libraries": library_versions(EDGE_IMPORTS[(artifact.format, target)])}
            directory = self.cache.directory(
                "converted", key,
                lambda out_dir, s=artifact, t=target: convert_step(
                    s, t, out_dir, self.variant.model.input_shape, dynamic))
            artifact = artifact_in(directory, target)
        return artifact, key

    def save(self) -> Artifact:
        return self._saved[0]

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.engine.load(self.save().path)
        return self._session

    # -- validate --------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        model_package = self.variant.model.source.partition(":")[0].rpartition(".")[0]
        parts = {
            "artifact": cache_key(self._saved[1]),
            "engine": self.variant.engine,
            "engine_versions": self.engine.versions(),
            "libraries": library_versions(self.variant.model.requires),  # decoding, preprocessing
            "task": self.task.fingerprint(),
            "code": code_fingerprint(["evaluation", "compbench.tasks", model_package]),
        }
        batch = self.variant.model.eval_batch
        if not self.session.accepts_batch(batch):
            batch = 1
        return self.cache.json_value(
            "accuracy", parts, lambda: self.task.evaluate(self.session.run, self.variant.id, batch))

    # -- benchmark -------------------------------------------------------------------------
    def benchmark_input(self) -> np.ndarray:
        return self.task.sample_input()

    def size_bytes(self) -> int:
        return self.save().size_bytes

