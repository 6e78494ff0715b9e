"""One variant, end to end, in the template steps of NNCF's conformance pipelines:

    prepare → compress → convert → evaluate → benchmark

The three expensive steps are cached (``ArtifactCache``) and each runs in its own interpreter
(``compbench.isolation``), keyed by its direct inputs and by the dependencies it recorded while
running. Conversions and evaluations are keyed by the *content* of the artifact they start from,
so two recipes that produce the same bytes share everything downstream. Only ``benchmark``
happens in the pytest process, on a session loaded from the cached artifact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from compbench import hardware, isa_emulation
from compbench.assets import Assets
from compbench.cache import ArtifactCache, Entry, cache_key
from compbench.engines.base import Engine, Session
from compbench.engines.registry import get_engine, unavailable
from compbench.errors import NotEmulated
from compbench.formats.artifacts import Artifact, artifact_in
from compbench.formats.routes import route
from compbench.isolation import STEP_THREADS, run_step
from compbench.quiet import import_quietly
from compbench.runner.declared_requirements import check_declared
from compbench.runner.matrix import upstream_of
from compbench.specs import Variant
from compbench.tasks import create_task
from compbench.tasks.base import Task

SEED = 0
T = TypeVar("T")


@dataclass
class VariantPipeline:
    variant: Variant
    assets: Assets
    cache: ArtifactCache
    task: Task | None = None
    _session: Session | None = field(default=None, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def _once(self, name: str, compute: Callable[[], T]) -> T:
        """Compute a step once per pipeline. Not ``functools.cached_property``: on Python 3.11
        it holds one lock per attribute *across all instances*, so the prebuild's two threads
        would wait for each other's builds instead of running them side by side."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    # -- prepare ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Fail early and cheaply: engine installed, assets present, before any build."""
        _ = self.engine
        # Before the task: a CIFAR task builds the model's preprocessing, which imports the
        # model's framework (tf_keras, transformers) and would fail with an ImportError.
        problem = unavailable(self.variant.id, self.variant.requires, self.engine.config.family)
        if problem:
            raise problem
        not_emulated = isa_emulation.reason_not_emulated(self.engine.config.name)
        if not_emulated:
            raise NotEmulated(f"{self.variant.id}: not measured under the emulated class "
                              f"{isa_emulation.target()} ({not_emulated}); its values of that "
                              "class need a real machine of it",
                              engine=self.engine.config.name, reason=not_emulated)
        if self.task is None:
            if "tf_keras" in self.variant.requires:
                # a Keras task's preprocessing imports tf_keras, and TensorFlow's first import
                # writes its native start-up notices to fd 2 (compbench/quiet.py)
                import_quietly("tf_keras")
            self.task = create_task(self.variant.model, self.assets)
        for ref in self.variant.model.weights:
            self.assets.weights(ref)
        for ref in self.variant.inputs + (self.upstream.variant.inputs if self.upstream else ()):
            self.assets.file(ref)

    @property
    def engine(self) -> Engine:
        return self._once("engine", lambda: get_engine(self.variant.engine))

    def _request(self, **extra: Any) -> dict[str, Any]:
        return {"variant": self.variant.as_request(), "assets": str(self.assets.root),
                "overrides": {k: str(v) for k, v in self.assets.overrides.items()}, **extra}

    def _run(self, step: str, request: dict[str, Any], module: str = "compbench.runner.steps"):
        uses_tf = "tensorflow" in self.variant.requires
        label = self.variant.id
        engine = self.engine.config.name
        prefix = isa_emulation.evaluation_prefix(engine) if step == "evaluate" else []

        def runner(out_dir):
            result, dependencies = run_step(f"{module}:{step}", request, out_dir, label,
                                            uses_tf, prefix, fresh=step == "footprint")
            check_declared(self.variant, step, dependencies)
            return result, dependencies

        return runner

    # -- compress --------------------------------------------------------------------------
    @property
    def recipe_inputs(self) -> dict[str, Any]:
        """Direct inputs of the build; the code and libraries it used are recorded by the
        cache (``compbench.dependencies``), not listed here."""
        return self._once("recipe_inputs", self._recipe_inputs)

    def _recipe_inputs(self) -> dict[str, Any]:
        inputs = self._recipe_inputs_direct()
        if self.upstream is not None:   # a chain: keyed by the content of the model it starts from
            inputs["source"] = {"row": self.variant.after,
                                "digest": self.upstream._recipe_entry().digest}
        return inputs

    def _recipe_inputs_direct(self) -> dict[str, Any]:
        model = self.variant.model
        inputs = {
            # the model's data is an input (the table module is not); its prose is not
            "model": {k: v for k, v in dataclasses.asdict(model).items() if k != "description"},
            "compression": self.variant.compression,
            "recipe": self.variant.recipe,
            "weights": {w: self.assets.weights_digest(w) for w in model.weights},
            "calibration": self.task.calibration_fingerprint(),
            "seed": SEED,
            "threads": STEP_THREADS,
            # fp32 calibration and fine-tuning kernels differ between int8 tiers, and a cache
            # folder may travel between machines (a CI cache, an emulated class)
            "hardware_class": hardware.current().hardware_class,
        }
        if self.variant.params:
            inputs["params"] = dict(self.variant.params)
        if self.variant.inputs:
            inputs["inputs"] = {ref: self.assets.weights_digest(ref) for ref in self.variant.inputs}
        return inputs

    @property
    def build_group(self) -> str:
        """Which recipe build this is, known without building anything — a chain names the
        row it follows where its cache key has that row's artifact digest — so the prebuild
        can group variants before any build runs."""
        def key() -> str:
            inputs = self._recipe_inputs_direct()
            if self.upstream is not None:
                inputs["after"] = self.upstream.build_group
            return cache_key(inputs)
        return self._once("build_group", key)

    @property
    def upstream(self) -> VariantPipeline | None:
        """A chain's previous row (``Row.after``), whose cached build this recipe starts from."""
        def make() -> VariantPipeline | None:
            variant = upstream_of(self.variant)
            return variant and VariantPipeline(variant, self.assets, self.cache, self.task)
        return self._once("upstream", make)

    def _recipe_entry(self) -> Entry:
        def request() -> dict[str, Any]:
            if self.upstream is None:
                return self._request(seed=SEED)
            source = self.upstream.compress()
            return self._request(seed=SEED, source={"format": source.format,
                                                    "path": str(source.path)})
        return self._once("recipe", lambda: self.cache.get_or_build(
            "recipes", self.recipe_inputs, self._run("compress", request())))

    def compress(self) -> Artifact:
        entry = self._recipe_entry()
        return artifact_in(entry.path, entry.value["format"])

    def recipe_cached(self) -> bool:
        """Whether the build is cached (for a chain: its previous rows are built to know)."""
        return self.cache.lookup("recipes", self.recipe_inputs) is not None

    # -- convert (to the engine's format) --------------------------------------------------
    def _converted(self) -> tuple[Artifact, Entry]:
        return self._once("converted", self._run_conversions)

    def _run_conversions(self) -> tuple[Artifact, Entry]:
        entry = self._recipe_entry()
        artifact = self.compress()
        dynamic = self.variant.model.eval_batch > 1
        shape = list(self.variant.model.input_shape)
        for target in route(artifact.format, self.engine.config.artifact_format):
            inputs = {"from": entry.digest, "from_format": artifact.format, "to": target,
                      "dynamic_batch": dynamic, "input_shape": shape}
            request = self._request(source_format=artifact.format, source_path=str(artifact.path),
                                    target=target, input_shape=shape, dynamic_batch=dynamic)
            entry = self.cache.get_or_build("converted", inputs, self._run("convert", request))
            artifact = artifact_in(entry.path, target)
        return artifact, entry

    def convert(self) -> Artifact:
        """The artifact in the engine's format (converted from the recipe's, cached)."""
        return self._converted()[0]

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.engine.load(self.convert().path)
        return self._session

    # -- evaluate --------------------------------------------------------------------------
    @property
    def evaluation(self) -> dict[str, Any]:
        """Accuracy metrics and the batch they were computed at (cached by artifact content,
        engine implementation and evaluation data; one thread, see ``isolation``)."""
        return self._once("evaluation", self._evaluate)

    def _evaluate(self) -> dict[str, Any]:
        artifact, entry = self._converted()
        inputs = {"artifact": entry.digest, "format": artifact.format,
                  "engine": self.engine.config.key, "threads": STEP_THREADS,
                  "task": self.task.fingerprint(), "batch": self.variant.model.eval_batch,
                  "hardware_class": hardware.current().hardware_class}
        request = self._request(artifact=str(artifact.path), threads=STEP_THREADS,
                                engine=dataclasses.asdict(self.engine.config),
                                batch=self.variant.model.eval_batch)
        return self.cache.get_or_build("accuracy", inputs, self._run("evaluate", request)).value

    def evaluation_rate(self) -> float | None:
        """Evaluation images per second of the accuracy step (None for an entry built before
        the step timed itself)."""
        evaluation = self.evaluation
        if not evaluation.get("seconds"):
            return None
        return evaluation["images"] / evaluation["seconds"]

    def accuracy(self) -> dict[str, float]:
        """The task's metrics of this variant; raises ``NonFiniteOutput`` for NaN outputs."""
        return dict(self.evaluation["metrics"])

    def census(self) -> dict[str, int | float]:
        """What the evaluated session executed (``Session.census``), from the same cached
        accuracy step; empty for an engine that cannot tell."""
        return dict(self.evaluation.get("census") or {})

    # -- footprint -------------------------------------------------------------------------
    FOOTPRINT_FORWARDS = 10

    @property
    def footprint(self) -> dict[str, float]:
        """Memory and start-up in a fresh process (``compbench.runner.steps.footprint``), cached like an
        evaluation: by artifact content, engine implementation and input."""
        return self._once("footprint", self._footprint)

    def _footprint(self) -> dict[str, float]:
        artifact, entry = self._converted()
        inputs = {"artifact": entry.digest, "format": artifact.format,
                  "engine": self.engine.config.key, "threads": STEP_THREADS,
                  "task": self.task.fingerprint(), "forwards": self.FOOTPRINT_FORWARDS}
        request = self._request(artifact=str(artifact.path), threads=STEP_THREADS,
                                engine=dataclasses.asdict(self.engine.config),
                                forwards=self.FOOTPRINT_FORWARDS)
        step = self._run("footprint", request, "compbench.runner.footprint_step")
        return self.cache.get_or_build("footprint", inputs, step).value

    # -- benchmark -------------------------------------------------------------------------
    def benchmark_input(self) -> np.ndarray:
        return self.task.sample_input()

    def size_bytes(self) -> int:
        return self.convert().size_bytes
