"""The cached steps as they run inside a step interpreter (``compbench.isolation``).

Each takes the JSON request the pipeline wrote and the folder to fill, and returns a small
JSON result. Everything they import is recorded as their dependencies, so they import only what
the step needs: the engine and the task of this variant, never the whole matrix's libraries.
"""

from __future__ import annotations

import time
from pathlib import Path

from compbench.assets import Assets


def _assets(request: dict) -> Assets:
    overrides = {k: Path(v) for k, v in (request.get("overrides") or {}).items()}
    return Assets(request["assets"], overrides)


def compress(request: dict, out_dir: Path) -> dict:
    """Run the variant's recipe on its source model (fp32, or a chain's previous artifact);
    the artifact lands in ``out_dir``."""
    from compbench.compression.base import RecipeContext
    from compbench.formats.artifacts import Artifact
    from compbench.specs import Variant
    from compbench.tasks import create_task

    variant = Variant.from_request(request["variant"])
    assets = _assets(request)
    task = create_task(variant.model, assets)
    source = request.get("source")
    context = RecipeContext(variant.model, variant.compression, out_dir, task, assets,
                            request["seed"],
                            source and Artifact(source["format"], Path(source["path"])))
    artifact = variant.run_recipe(context)
    return {"format": artifact.format}


def convert(request: dict, out_dir: Path) -> dict:
    """One direct conversion edge (``compbench.formats.routes.convert_step``)."""
    from compbench.formats.artifacts import Artifact
    from compbench.formats.routes import convert_step

    source = Artifact(request["source_format"], Path(request["source_path"]))
    target = convert_step(source, request["target"], out_dir, tuple(request["input_shape"]),
                          request["dynamic_batch"])
    return {"format": target.format}


def evaluate(request: dict, out_dir: Path) -> dict:
    """Accuracy of one artifact on one engine (``request["threads"]`` threads), on the task's
    evaluation data; batched where the loaded artifact accepts it."""
    from compbench.engines.base import EngineSpec
    from compbench.engines.registry import load_engine
    from compbench.specs import Variant
    from compbench.tasks import create_task

    variant = Variant.from_request(request["variant"])
    task = create_task(variant.model, _assets(request))
    # The spec comes with the request, so this process imports its own engine module only
    # (discovering all of them would make every evaluation depend on every engine's code).
    spec = EngineSpec(**{**request["engine"], "requires": tuple(request["engine"]["requires"]),
                         "threads": request["threads"]})
    session = load_engine(spec).load(Path(request["artifact"]))
    batch = request["batch"] if session.accepts_batch(request["batch"]) else 1
    started = time.perf_counter()
    metrics = task.evaluate(session.run, variant.id, batch)
    seconds = round(time.perf_counter() - started, 3)
    # on the session just evaluated: what it executed, cached with what it scored
    return {"metrics": metrics, "batch": batch, "images": task.evaluation_size,
            "seconds": seconds, "census": session.census()}
