"""The variant table: ids, lookup errors, the CLI listing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compbench.bench.suite import MATRIX
from compbench.engines.registry import ENGINES
from compbench.errors import UnknownVariant
from compbench.runner.matrix import VARIANTS, get_variant, reference_of
from compbench.settings import REPO_ROOT


def test_ids_expand_from_the_table():
    expected = [f"{row.model}/{row.compression}/{engine}" for row in MATRIX for engine in row.engines]
    assert list(VARIANTS) == expected
    assert len(set(expected)) == len(expected)


def test_every_engine_in_the_table_is_registered():
    assert {v.engine for v in VARIANTS.values()} <= set(ENGINES)


def test_fp32_reference_runs_on_every_engine_a_torch_model_reaches():
    """The reference every detector variant is compared with must exist on each engine."""
    from compbench.engines.registry import ENGINES
    from compbench.formats.routes import NoRoute, route

    def reachable(fmt: str) -> bool:
        try:
            route("torch", fmt)
        except NoRoute:
            return False
        return True

    engines = {v.engine for v in VARIANTS.values()
               if v.model.name == "scrfd_500m_kps" and v.compression == "fp32"}
    assert engines == {name for name, spec in ENGINES.items() if reachable(spec.artifact_format)}


def test_unknown_variant_lists_known_ids():
    with pytest.raises(UnknownVariant) as info:
        get_variant("scrfd_500m_kps/fp64/torch")
    assert "fp64" in str(info.value) and "scrfd_500m_kps/fp32/torch" in str(info.value)


def test_reference_is_fp32_on_the_reference_engine():
    variant = get_variant("scrfd_500m_kps/fp32/openvino")
    assert reference_of(variant).id == "scrfd_500m_kps/fp32/torch"


def test_cli_lists_ids():
    out = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "variants", "--ids"],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == list(VARIANTS)


def test_cli_unknown_variant_is_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "predict-wider", "--variant",
                          "nope/fp32/torch", "--out", str(tmp_path)],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.startswith("compbench: error: unknown variant id 'nope/fp32/torch'")
    assert "Traceback" not in run.stderr


def test_conversion_requirements_follow_the_route():
    """torch → OpenVINO goes through ONNX; Keras → OpenVINO does not, so it must not need onnx."""
    assert "onnx" in get_variant("scrfd_500m_kps/fp32/openvino").requires
    assert "onnx" in get_variant("resnet20/int8-ort/onnxruntime").requires
    assert "onnx" not in get_variant("resnet8/fp32/openvino").requires
    assert "tensorflow" in get_variant("resnet8/fp32/openvino").requires
    assert "onnx" not in get_variant("scrfd_500m_kps/fp32/torch").requires


def test_every_row_s_parameters_are_exactly_its_recipe_s_keywords():
    """A misspelt or forgotten parameter would otherwise surface only in a cold build."""
    import inspect

    from compbench.specs import resolve

    for row in MATRIX:
        signature = inspect.signature(resolve(row.recipe))
        keywords = {name for name, p in signature.parameters.items()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert set(dict(row.params)) == keywords, f"{row.model}/{row.compression}: {row.recipe}"


def test_rows_that_differ_by_a_parameter_share_one_recipe_and_the_parameters_key_its_build(
        assets, asset_file, tmp_path):
    from compbench.cache import ArtifactCache
    from compbench.runner.pipeline import VariantPipeline

    asset_file("cifar10/models/mlperf_tiny_resnet8.h5")

    sixteen, thirty_two = (get_variant(f"resnet8/clustered-{n}/keras") for n in (16, 32))
    assert sixteen.recipe == thirty_two.recipe
    assert dict(sixteen.params)["clusters"] == 16 and dict(thirty_two.params)["clusters"] == 32
    pipelines = [VariantPipeline(v, assets, ArtifactCache(tmp_path)) for v in (sixteen, thirty_two)]
    for pipeline in pipelines:
        pipeline.prepare()
    keys = [pipeline.recipe_inputs for pipeline in pipelines]
    assert keys[0]["params"]["clusters"] == 16 and keys[1]["params"]["clusters"] == 32
    assert {k: v for k, v in keys[0].items() if k not in ("params", "compression")} == \
        {k: v for k, v in keys[1].items() if k not in ("params", "compression")}


def test_a_parameter_that_is_not_a_plain_value_is_refused():
    from compbench.specs import Row, SpecError

    with pytest.raises(SpecError, match="ratios"):
        Row(model="m", compression="c", recipe="compression.fp32:fp32", engines=("torch",),
            params={"ratios": {"a": 0.5}})


def test_variants_details_lists_the_recipe_and_its_parameters():
    out = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "variants", "--details",
                          "scrfd_500m_kps/pruned/torch"], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "recipe compression.pruned:pruned" in out
    assert "ratio=0.375" in out and "steps=500" in out
