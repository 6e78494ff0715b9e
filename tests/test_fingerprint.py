"""Cache keys hold the library versions that matter to a step, and only those."""

from __future__ import annotations

from compbench.artifacts import EDGE_IMPORTS, ROUTES
from compbench.cache import ArtifactCache, cache_key
from compbench.fingerprint import library_versions
from compbench.pipeline import VariantPipeline
from compbench.variants import get_variant


def test_versions_follow_the_imports():
    ort = library_versions(("onnxruntime",))
    assert {"onnxruntime", "numpy", "opencv-python-headless"} <= ort.keys()
    assert "tensorflow" not in ort and "torch" not in ort
    assert {"optimum", "optimum-onnx"} <= library_versions(("optimum.onnxruntime",)).keys()
    assert library_versions().keys() >= ort.keys() | {"torch", "openvino"}


def test_every_conversion_edge_names_its_imports():
    assert EDGE_IMPORTS.keys() == {edge for edge, via in ROUTES.items() if via is None}


def test_one_recipe_build_serves_every_engine(assets, tmp_path):
    """The engine adds conversion requirements, never a second build of the same recipe."""
    keys = set()
    for engine in ("torch", "onnxruntime", "openvino"):
        pipeline = VariantPipeline(get_variant(f"scrfd_500m_kps/sparse/{engine}"), assets,
                                   ArtifactCache(tmp_path))
        pipeline.prepare()
        keys.add(cache_key(pipeline.recipe_key))
    assert len(keys) == 1
