"""Every engine runs the same fp32 artifact to the same raw outputs as PyTorch eager.

Tolerances are stated per engine, in its declaration (``output_tolerance``, with the reason):
graph optimisers fuse and reorder float operations, so bit-equality is not expected; the bounds
are far below what would move a detection.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from compbench.bench.suite import FP32_ENGINES
from compbench.engines.registry import ENGINES, install_hint, load_engine, missing_distributions
from compbench.errors import AssetMissing, EngineUnavailable
from compbench.runner.matrix import get_variant
from compbench.runner.pipeline import VariantPipeline


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
    """max |engine - torch| over all nine raw SCRFD outputs (scores, box and keypoint distances)."""
    tolerance = ENGINES[engine].output_tolerance
    assert tolerance is not None, (f"{engine} runs the fp32 SCRFD rows: declare its "
                                   "output_tolerance in its engines/ module")
    inputs, expected = fp32_reference
    pipeline = VariantPipeline(get_variant(f"scrfd_500m_kps/fp32/{engine}"), assets,
                               artifact_cache)
    pipeline.prepare()
    outputs = pipeline.session.run(inputs)
    assert len(outputs) == len(expected) == 9
    for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        assert got.shape == want.shape, f"output {index}"
        assert np.abs(got - want).max() <= tolerance, f"output {index}"


def test_engine_threads_are_explicit():
    assert ENGINES["onnxruntime-1t"].resolved_threads == 1
    assert ENGINES["onnxruntime"].resolved_threads >= 1
    assert load_engine(ENGINES["onnxruntime-1t"]).threads == 1


def test_missing_engine_distribution_is_a_skip_reason_not_an_import_error():
    spec = replace(ENGINES["openvino"], requires=("openvino", "openvino-not-installed-here"))
    with pytest.raises(EngineUnavailable) as info:
        load_engine(spec)
    assert "engine 'openvino' needs the Python distribution(s) openvino-not-installed-here" in str(
        info.value)


def test_the_install_hint_names_the_extra_and_the_tox_env():
    hint = install_hint(["openvino", "nncf"], "openvino")
    assert "pip install -e '.[openvino]' -c constraints/known-good.txt" in hint
    assert "tox -e openvino" in hint
    assert ".[hf,tf]" in install_hint(["tf_keras", "optimum-onnx"], "onnxruntime")


def test_availability_is_the_distribution_not_an_importable_name():
    assert missing_distributions(("numpy", "tf-keras", "tf_keras", "numpy.linalg")) == [
        "numpy.linalg"]  # an import path is no distribution name


def test_missing_recipe_package_skips_before_the_framework_is_imported(assets, tmp_path):
    """A Keras or ViT row where its framework is absent (``tox -e openvino``) must skip with the
    package and extra, not fail with the ImportError of its preprocessing (built with the task)."""
    from compbench.cache import ArtifactCache

    variant = get_variant("resnet8/fp32/openvino")
    variant = replace(variant, model=replace(variant.model, preprocess="no_such_module:preprocess"),
                      requires=("tf-keras-not-installed-here",))
    with pytest.raises(EngineUnavailable) as info:
        VariantPipeline(variant, assets, ArtifactCache(tmp_path)).prepare()
    assert "tf-keras-not-installed-here" in str(info.value)


def test_extras_come_from_distribution_names():
    from compbench.engines.registry import extras_for

    assert extras_for(["tf_keras", "tensorflow-model-optimization"]) == ["tf"]
    assert extras_for(["transformers", "optimum-intel", "nncf"]) == ["hf", "openvino"]
