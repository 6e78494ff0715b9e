"""Build a session's missing recipe artifacts side by side, before the first test needs one.

Why: the expensive recipes are small-batch training loops (QAT, channel pruning, sparsity,
distillation, tfmot fine-tunes) that gain nothing from a second thread on a shared 2-core
machine (measured on SCRFD fine-tuning: 0.29 s/step on one thread, 0.60 s/step on two while
another job ran), so every recipe pins one thread and ``jobs`` builds run in parallel processes.
A recipe's result does not depend on how the cache was filled: each build runs the same code on
the same thread count, whether here, in a test, or alone. A cold first run gets twice the
throughput; a warm one finds nothing to build and starts at once.

Failures are not reported here: the test that needs the artifact rebuilds it in-process and
fails or skips with the real error.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from compbench.assets import Assets
from compbench.cache import ArtifactCache, cache_key
from compbench.pipeline import VariantPipeline
from compbench.variants import Variant, get_variant


def missing_builds(variants: Iterable[Variant], assets: Assets,
                   cache: ArtifactCache) -> list[str]:
    """Ids of one variant per recipe build that is not cached yet (a recipe serves all the
    engines of its row), skipping variants that cannot build here (engine or asset missing)."""
    pending: dict[str, str] = {}
    tasks: dict = {}
    for variant in variants:
        pipeline = VariantPipeline(variant, assets, cache, tasks.get(variant.model.name))
        try:
            pipeline.prepare()
        except Exception:  # noqa: BLE001 - missing engine/asset/package: its tests say so
            continue
        tasks[variant.model.name] = pipeline.task
        key = cache_key(pipeline.recipe_key)
        if key not in pending and not (cache.entry_dir("recipes", key) / "meta.json").is_file():
            pending[key] = variant.id
    return list(pending.values())


def _build(variant_id: str, assets_root: Path, overrides: dict[str, Path] | None,
           cache_root: Path) -> str:
    try:
        pipeline = VariantPipeline(get_variant(variant_id), Assets(assets_root, overrides),
                                   ArtifactCache(cache_root))
        pipeline.prepare()
        pipeline.compress()
    except Exception as exc:  # noqa: BLE001 - re-raised by the test that needs the artifact
        return f"{variant_id}: not prebuilt ({type(exc).__name__}: {exc})"
    return f"{variant_id}: built"


def prebuild(variant_ids: list[str], assets: Assets, cache: ArtifactCache, jobs: int,
             log=print) -> None:
    """Build ``variant_ids``' recipes in ``jobs`` processes (spawned: no inherited threads)."""
    if not variant_ids:
        return
    log(f"compbench: building {len(variant_ids)} missing recipe artifact(s) in {jobs} "
        f"parallel process(es): {', '.join(variant_ids)}")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_build, vid, assets.root, assets.overrides, cache.root)
                   for vid in variant_ids]
        for future in as_completed(futures):
            log(f"compbench: {future.result()}")
