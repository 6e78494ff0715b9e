"""The footprint step measures a real process: its peak grows with what it holds, and it is cached."""

from __future__ import annotations

import pytest

from compbench.errors import AssetMissing
from compbench.runner.matrix import get_variant
from compbench.runner.pipeline import VariantPipeline


def test_the_detector_costs_more_memory_and_start_up_than_the_small_classifier(assets,
                                                                                 artifact_cache):
    measured = {}
    for variant_id in ("resnet20/fp32/onnxruntime", "scrfd_500m_kps/fp32/onnxruntime"):
        pipeline = VariantPipeline(get_variant(variant_id), assets, artifact_cache)
        try:
            pipeline.prepare()
        except AssetMissing as exc:
            pytest.skip(str(exc))
        footprint = pipeline.footprint
        assert 0 < footprint["rss_before_mb"] <= footprint["peak_rss_mb"] < 4096
        assert 0 < footprint["startup_s"] < 60
        again = VariantPipeline(get_variant(variant_id), assets, artifact_cache)
        again.prepare()
        assert again.footprint == footprint   # cached by content: the same entry, not re-measured
        measured[variant_id] = footprint
    grown = {v: f["peak_rss_mb"] - f["rss_before_mb"] for v, f in measured.items()}
    # a 640x640 detector's activations are ~40x a 32x32 classifier's
    assert grown["scrfd_500m_kps/fp32/onnxruntime"] > grown["resnet20/fp32/onnxruntime"] + 20
