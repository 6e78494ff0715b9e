"""The variant table: ids, lookup errors, the CLI listing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compbench.errors import UnknownVariant
from compbench.settings import REPO_ROOT
from engines.registry import ENGINES
from runner.matrix import MATRIX, VARIANTS, get_variant, reference_of


def test_ids_expand_from_the_table():
    expected = [f"{row.model}/{row.compression}/{engine}" for row in MATRIX for engine in row.engines]
    assert list(VARIANTS) == expected
    assert len(set(expected)) == len(expected)


def test_every_engine_in_the_table_is_registered():
    assert {v.engine for v in VARIANTS.values()} <= set(ENGINES)


def test_fp32_reference_runs_on_every_engine_a_torch_model_reaches():
    """The reference every detector variant is compared with must exist on each engine."""
    from engines.registry import ENGINES
    from formats.routes import NoRoute, route

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
    out = subprocess.run([sys.executable, "-m", "runner.cli", "variants", "--ids"],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == list(VARIANTS)


def test_cli_unknown_variant_is_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "runner.cli", "predict-wider", "--variant",
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
