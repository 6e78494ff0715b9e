"""A row's declared requirements are checked against what its steps really loaded."""

from __future__ import annotations

import pytest

from compbench.runner.declared_requirements import (
    UndeclaredRequirement,
    check_declared,
    extras_of_distributions,
    undeclared,
)
from compbench.runner.matrix import get_variant


def test_extras_come_from_the_package_metadata_not_a_list():
    extras = extras_of_distributions()
    assert extras["onnxruntime"] == {"onnx"} and extras["nncf"] == {"openvino"}
    assert "numpy" not in extras and "pillow" not in extras  # base dependencies: always there


def test_only_frameworks_outside_the_declared_extras_are_reported():
    assert undeclared(["numpy", "torch", "onnxruntime", "tqdm"], {"torch"}) == ["onnxruntime"]
    assert undeclared(["tf_keras", "tensorflow"], {"tf"}) == []


def test_a_step_that_loaded_an_undeclared_framework_fails_naming_the_row():
    variant = get_variant("resnet20/fp32/torch")  # declares torch only
    check_declared(variant, "evaluate", {"distributions": {"torch": "2", "numpy": "2"}})
    with pytest.raises(UndeclaredRequirement) as info:
        check_declared(variant, "compress", {"distributions": {"torch": "2", "tensorflow": "2"}})
    assert "resnet20/fp32/torch loaded tensorflow" in str(info.value)
    assert "bench/suite.py" in str(info.value)


def test_declared_distribution_names_cover_what_they_install():
    """Declarations name distributions (tf_keras, optimum-intel); their extras are what counts:
    what they install passes, a framework outside them still fails."""
    keras = get_variant("resnet8/clustered-16/keras")
    check_declared(keras, "compress", {"distributions": {
        "tensorflow": "2", "tf-keras": "2", "tensorflow-model-optimization": "0.8"}})
    with pytest.raises(UndeclaredRequirement, match="resnet8/clustered-16/keras loaded torch"):
        check_declared(keras, "compress", {"distributions": {"tf-keras": "2", "torch": "2"}})
    vit = get_variant("vit/int8-ov/openvino")
    check_declared(vit, "compress", {"distributions": {
        "optimum-intel": "1", "nncf": "3", "openvino": "2", "transformers": "4", "torch": "2"}})
    with pytest.raises(UndeclaredRequirement, match="vit/int8-ov/openvino loaded tensorflow"):
        check_declared(vit, "compress", {"distributions": {"openvino": "2", "tensorflow": "2"}})
