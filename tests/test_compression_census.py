"""The compression census proves what an engine executes (docs/compression-census.md): a real
int8 model that an engine setting leaves running in float is caught by the census gate, naming
the variant and the number, while the normal load counts its int8 convolutions."""

from __future__ import annotations

import numpy as np
import pytest

from compbench.engines.base import kernel_census
from compbench.engines.registry import get_engine
from compbench.runner import census as census_module
from compbench.runner.baselines import Baselines, empty, hardware_dependent
from compbench.runner.census import CensusNotRecorded, census_checks, gated_measures, selected
from compbench.runner.gate import gate
from compbench.runner.matrix import VARIANTS
from compbench.runner.results import VariantResult

INT8 = "resnet20/int8-ort/onnxruntime-1t"
CLASS = "x86_64-avx512-vnni"
# real onnxruntime settings that keep a QDQ model's DequantizeLinear + float Conv
FLOAT_FALLBACKS = {
    "session.disable_quant_qdq": {"config_entries": {"session.disable_quant_qdq": "1"}},
    "QDQ fusion optimiser disabled": {"disabled_optimizers": ["QDQSelectorActionTransformer"]},
}


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory) -> str:
    """A tiny two-conv net quantized by onnxruntime's own static QDQ quantizer."""
    onnx = pytest.importorskip("onnx")
    quantization = pytest.importorskip("onnxruntime.quantization")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {"w1": rng.normal(size=(8, 3, 3, 3)), "b1": rng.normal(size=8),
               "w2": rng.normal(size=(8, 8, 3, 3)), "b2": rng.normal(size=8),
               "fc": rng.normal(size=(8, 4)), "fcb": rng.normal(size=4)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = tmp_path_factory.mktemp("census")
    onnx.save(model, folder / "fp32.onnx")

    class Calibration(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.normal(size=(1, 3, 16, 16)).astype(np.float32)}
                                 for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    quantization.quantize_static(str(folder / "fp32.onnx"), str(folder / "int8.onnx"),
                                 Calibration(), quant_format=quantization.QuantFormat.QDQ,
                                 per_channel=True)
    return str(folder / "int8.onnx")


def recorded(tmp_path, variant_id: str, census: dict) -> Baselines:
    """A baseline file with ``census`` recorded for ``variant_id``, the way --update-baselines
    records (Baselines.updated), on a fixed hardware class."""
    baselines = Baselines(tmp_path / "b.json", empty("b"), CLASS, "GenuineIntel-6-143")
    data, _ = baselines.updated({variant_id: census}, {"command": "test"})
    return Baselines(tmp_path / "b.json", data, CLASS, "GenuineIntel-6-143")


def test_the_normal_load_counts_int8_convolutions(int8_model):
    from pathlib import Path

    census = get_engine("onnxruntime-1t").load(Path(int8_model)).census()
    assert census["int8_convs"] == 2 and census["float_convs"] == 0
    assert census["int8_matmuls"] == 1   # the Gemm, as QGemm


@pytest.mark.parametrize("setting", FLOAT_FALLBACKS)
def test_an_engine_setting_that_runs_int8_in_float_fails_the_census_gate(int8_model, tmp_path,
                                                                         setting):
    from pathlib import Path

    engine = get_engine("onnxruntime-1t")
    normal = selected(VARIANTS[INT8], engine.load(Path(int8_model)).census())
    fallback = engine.load_with(Path(int8_model), **FLOAT_FALLBACKS[setting])
    floated = selected(VARIANTS[INT8], fallback.census())
    assert floated["int8_convs"] == 0 and floated["float_convs"] == 2
    # the model still runs and answers: only the census tells it is no longer int8
    assert np.isfinite(fallback.run(np.zeros((1, 3, 16, 16), np.float32))[0]).all()

    baselines = recorded(tmp_path, INT8, normal)
    assert not [c.problem for c in census_checks(baselines, INT8, normal) if c.problem]
    result = VariantResult(VARIANTS[INT8])
    with pytest.raises(pytest.fail.Exception) as failure:
        gate(result, census_checks(baselines, INT8, floated), updating_baselines=False)
    message = str(failure.value)
    assert f"REGRESSION {INT8}: int8_convs = 0" in message
    assert "float_convs = 2" in message
    assert result.verdicts["int8_convs"] == "regression"


def test_a_census_without_baseline_is_reported_not_failed(int8_model, tmp_path):
    from pathlib import Path

    census = selected(VARIANTS[INT8], get_engine("onnxruntime-1t").load(Path(int8_model)).census())
    baselines = Baselines(tmp_path / "b.json", empty("b"), CLASS, "GenuineIntel-6-143")
    result = VariantResult(VARIANTS[INT8])
    with pytest.warns(CensusNotRecorded, match=f"{INT8}: census int8_convs = 2, float_convs = 0"
                                               ".* has no baseline.*--update-baselines"):
        gate(result, census_checks(baselines, INT8, census), updating_baselines=False)
    assert result.verdicts["int8_convs"] == "no baseline"


def test_a_census_differing_the_other_way_fails_too(tmp_path):
    variant = "scrfd_500m_kps/pruned/onnxruntime"
    stored = {"int8_convs": 0, "float_convs": 60, "int8_matmuls": 0, "float_matmuls": 0,
              "conv_channels": 5000}
    baselines = recorded(tmp_path, variant, stored)
    problems = [c.problem for c in census_checks(baselines, variant, {**stored, "conv_channels": 5306})
                if c.problem]
    assert len(problems) == 1 and "conv_channels = 5306" in problems[0] and variant in problems[0]


def test_openvino_counts_the_int8_convolutions_it_executes(int8_model):
    pytest.importorskip("openvino")
    from pathlib import Path

    census = get_engine("openvino").load(Path(int8_model)).census()
    assert census["int8_convs"] == 2 and census["float_convs"] == 0


def test_each_row_is_gated_on_the_counts_and_its_compressions_kernel_measure():
    counts = census_module.COUNTS
    assert gated_measures(VARIANTS["resnet20/int8-ort/onnxruntime"]) == counts
    assert gated_measures(VARIANTS["scrfd_500m_kps/sparse/torch"]) == (*counts, "zero_fraction")
    assert gated_measures(VARIANTS["resnet8/pruned-50/tflite"]) == (*counts, "zero_fraction")
    assert gated_measures(VARIANTS["scrfd_500m_kps/pruned+int8-ort/onnxruntime"]) == (
        *counts, "conv_channels")
    assert gated_measures(VARIANTS["mobilenetv2/clustered-16/keras"]) == (
        *counts, "max_distinct_per_kernel")


def test_every_census_is_kept_per_hardware_class():
    """An engine picks its executed graph per instruction set (fusions, layouts, int8 paths)."""
    assert hardware_dependent(INT8, "int8_convs")
    assert hardware_dependent("resnet20/fp32/onnxruntime", "float_convs")
    assert hardware_dependent("scrfd_500m_kps/sparse/torch", "zero_fraction")
    assert not hardware_dependent("resnet20/fp32/onnxruntime", "top1")


def test_kernel_census_measures_zeros_channels_and_distinct_values():
    kernels = [np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 2.0, 3.0, 4.0]])]
    assert kernel_census(kernels) == {"zero_fraction": 0.375, "conv_channels": 3,
                                      "max_distinct_per_kernel": 4}


def test_every_engine_reports_a_census():
    """No engine may fall back to the empty default (bench/test_census.py fails on it)."""
    from compbench.engines import registry
    from compbench.engines.base import Session

    for name, spec in registry.ENGINES.items():
        module = __import__(spec.module, fromlist=["_"])
        sessions = [obj for obj in vars(module).values()
                    if isinstance(obj, type) and issubclass(obj, Session) and obj is not Session]
        assert any(cls.census is not Session.census for cls in sessions), name


def test_another_hardware_class_census_is_reported_not_failed(int8_model, tmp_path):
    from pathlib import Path

    census = selected(VARIANTS[INT8], get_engine("onnxruntime-1t").load(Path(int8_model)).census())
    theirs = recorded(tmp_path, INT8, {**census, "int8_convs": census["int8_convs"] + 1})
    here = Baselines(theirs.path, theirs.data, "x86_64-avx2", "AuthenticAMD-25-1")
    result = VariantResult(VARIANTS[INT8])
    with pytest.warns(CensusNotRecorded, match=rf"int8_convs = {census['int8_convs']} \(the "
                                               rf"{CLASS} \(nearest\) class has"):
        gate(result, census_checks(here, INT8, census), updating_baselines=False)
    # its own class's census still fails on the same difference
    with pytest.raises(pytest.fail.Exception, match="int8_convs"):
        gate(VariantResult(VARIANTS[INT8]), census_checks(theirs, INT8, census),
             updating_baselines=False)
