"""Parallel prebuild: one build per recipe, only the missing ones, really built by workers."""

from __future__ import annotations

from compbench.cache import ArtifactCache, cache_key
from compbench.pipeline import VariantPipeline
from compbench.prebuild import missing_builds, prebuild
from compbench.variants import get_variant


def test_one_build_per_missing_recipe_and_workers_fill_the_cache(assets, tmp_path):
    cache = ArtifactCache(tmp_path)
    ids = ["scrfd_500m_kps/fp32/torch", "scrfd_500m_kps/fp32/onnxruntime",
           "scrfd_500m_kps/fp16-ov/openvino", "scrfd_500m_kps/fp32/openvino"]
    variants = [get_variant(i) for i in ids]
    assert missing_builds(variants, assets, cache) == ["scrfd_500m_kps/fp32/torch",
                                                       "scrfd_500m_kps/fp16-ov/openvino"]
    lines: list[str] = []
    prebuild(["scrfd_500m_kps/fp32/torch"], assets, cache, jobs=2, log=lines.append)
    assert lines[-1] == "compbench: scrfd_500m_kps/fp32/torch: built"
    assert missing_builds(variants, assets, cache) == ["scrfd_500m_kps/fp16-ov/openvino"]
    pipeline = VariantPipeline(variants[0], assets, cache)
    pipeline.prepare()
    assert (cache.entry_dir("recipes", cache_key(pipeline.recipe_key)) / "meta.json").is_file()


def test_a_failing_build_is_left_to_the_test(assets, tmp_path):
    """Workers never raise: the test that needs the artifact rebuilds it and shows the error."""
    lines: list[str] = []
    prebuild(["no/such/variant"], assets, ArtifactCache(tmp_path), jobs=2, log=lines.append)
    assert "not prebuilt (UnknownVariant" in lines[-1]
