"""Every engine runs the same fp32 artifact to the same raw outputs as PyTorch eager.

Tolerances are stated per engine: graph optimisers fuse and reorder float operations, so
bit-equality is not expected; the bounds are far below what would move a detection.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from compbench.errors import AssetMissing, EngineUnavailable
from engines.registry import ENGINES, load_engine
from runner.matrix import FP32_ENGINES, get_variant
from runner.pipeline import VariantPipeline

# max |engine - torch| over all nine raw SCRFD outputs (scores, box and keypoint distances)
TOLERANCE = {"torch": 0.0, "torchscript": 1e-4, "onnxruntime": 1e-4, "onnxruntime-1t": 1e-4,
             "openvino": 1e-3}


@pytest.fixture(scope="module")
def fp32_reference(assets, artifact_cache):
    pipeline = VariantPipeline(get_variant("scrfd_500m_kps/fp32/torch"), assets, artifact_cache)
    try:
        pipeline.prepare()
    except AssetMissing as exc:  # as in the bench's pipeline fixture: a missing asset skips
        pytest.skip(str(exc))
    inputs = pipeline.benchmark_input()
    return inputs, pipeline.session.run(inputs)


@pytest.mark.parametrize("engine", FP32_ENGINES)
def test_engine_matches_torch(engine, fp32_reference, assets, artifact_cache):
    inputs, expected = fp32_reference
    pipeline = VariantPipeline(get_variant(f"scrfd_500m_kps/fp32/{engine}"), assets,
                               artifact_cache)
    pipeline.prepare()
    outputs = pipeline.session.run(inputs)
    assert len(outputs) == len(expected) == 9
    for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        assert got.shape == want.shape, f"output {index}"
        assert np.abs(got - want).max() <= TOLERANCE[engine], f"output {index}"


def test_engine_threads_are_explicit():
    assert ENGINES["onnxruntime-1t"].resolved_threads == 1
    assert ENGINES["onnxruntime"].resolved_threads >= 1
    assert load_engine(ENGINES["onnxruntime-1t"]).threads == 1


def test_missing_engine_package_names_the_extra():
    config = replace(ENGINES["openvino"], packages=("openvino_not_installed_here",))
    with pytest.raises(EngineUnavailable) as info:
        load_engine(config)
    assert "openvino_not_installed_here" in str(info.value)
    assert ".[openvino]" in str(info.value)


def test_missing_packages_handles_dotted_names():
    from engines.registry import missing_packages

    assert missing_packages(("numpy", "no_such_parent.child", "numpy.linalg")) == [
        "no_such_parent.child"]


def test_missing_recipe_package_skips_before_the_framework_is_imported(assets, tmp_path):
    """A Keras or ViT row where its framework is absent (``tox -e openvino``) must skip with the
    package and extra, not fail with the ImportError of its preprocessing (built with the task)."""
    from compbench.cache import ArtifactCache

    variant = get_variant("resnet8/fp32/openvino")
    variant = replace(variant, model=replace(variant.model, preprocess="no_such_module:preprocess"),
                      requires=("tf_keras_not_installed_here",))
    with pytest.raises(EngineUnavailable) as info:
        VariantPipeline(variant, assets, ArtifactCache(tmp_path)).prepare()
    assert "tf_keras_not_installed_here" in str(info.value)


def test_missing_packages_name_their_extras():
    from engines.registry import extras_for

    assert extras_for(["tf_keras", "tensorflow_model_optimization"]) == ["tf"]
    assert extras_for(["transformers", "optimum.intel", "nncf"]) == ["hf", "openvino"]
