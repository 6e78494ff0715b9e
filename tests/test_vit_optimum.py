"""The Optimum recipes of the ViT rows, on a tiny randomly initialised ViT (no Hub, no assets).

The checkpoint's labels are the CIFAR names in a shuffled order, so ``load_vit`` derives a
non-identity ``class_index`` and every check below also covers the column reordering: the torch
wrapper indexes the logits, the exported graphs carry a permuted classifier head instead.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

os.environ.setdefault("USE_TF", "0")
os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("transformers")
pytest.importorskip("optimum.onnxruntime")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from compbench.models.cifar.vit import CIFAR_CLASSES, CifarVit, load_vit, vit_config  # noqa: E402
from compbench.models.cifar.vit_logits import VitLogits  # noqa: E402

# Column c of the checkpoint's head is CIFAR class PERMUTATION[c].
PERMUTATION = (3, 7, 0, 9, 1, 5, 8, 2, 6, 4)
# fp32 ONNX vs torch: same arithmetic in a different order (measured max |Δ| ~1e-6 on logits ~1).
EXPORT_ATOL = 1e-4


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory) -> CifarVit:
    from transformers import ViTForImageClassification

    config = vit_config()
    config.update({"patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2,
                   "num_attention_heads": 2, "intermediate_size": 64})
    config.id2label = {column: CIFAR_CLASSES[c] for column, c in enumerate(PERMUTATION)}
    config.label2id = {name: column for column, name in config.id2label.items()}
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-vit")
    ViTForImageClassification(config).save_pretrained(folder)
    return load_vit(folder)


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)


@pytest.fixture(scope="module")
def expected(tiny_vit: CifarVit, pixels: np.ndarray) -> np.ndarray:
    """CIFAR-ordered logits straight from the HF model: ``logits[:, class_index]``."""
    with torch.inference_mode():
        logits = tiny_vit.model(pixel_values=torch.from_numpy(pixels)).logits
    return logits[:, list(tiny_vit.class_index)].numpy()


@pytest.fixture(scope="module")
def exported(tiny_vit: CifarVit, tmp_path_factory) -> Path:
    from compbench.compression.optimum_ort import export_folder

    return export_folder(tiny_vit, tmp_path_factory.mktemp("optimum") / "exported")


def _run(graph: Path, pixels: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: pixels[i:i + 1]})[0]
                           for i in range(len(pixels))])


def _op_types(graph: Path) -> collections.Counter:
    return collections.Counter(node.op_type for node in onnx.load(str(graph)).graph.node)


def test_class_index_follows_label_names(tiny_vit: CifarVit) -> None:
    assert tiny_vit.class_index == tuple(PERMUTATION.index(c) for c in range(10))
    assert tiny_vit.class_index != tuple(range(10))


def test_wrapper_reorders_columns_and_round_trips(tiny_vit: CifarVit, pixels: np.ndarray,
                                                  expected: np.ndarray, tmp_path: Path) -> None:
    wrapper = VitLogits.wrap(tiny_vit)
    with torch.inference_mode():
        raw = tiny_vit.model(pixel_values=torch.from_numpy(pixels)).logits.numpy()
        ordered = wrapper(torch.from_numpy(pixels)).numpy()
    np.testing.assert_array_equal(ordered, expected)
    for cifar_class, column in enumerate(tiny_vit.class_index):
        np.testing.assert_array_equal(ordered[:, cifar_class], raw[:, column])
    torch.save(wrapper, tmp_path / "model.pt")  # what the torch engine loads
    loaded = torch.load(tmp_path / "model.pt", weights_only=False).eval()
    with torch.inference_mode():
        np.testing.assert_array_equal(loaded(torch.from_numpy(pixels)).numpy(), expected)


def test_export_matches_torch_in_cifar_order(exported: Path, pixels: np.ndarray,
                                             expected: np.ndarray) -> None:
    from compbench.compression.optimum_ort import OPSET

    model = onnx.load(str(exported))
    assert {o.domain: o.version for o in model.opset_import}.get("", None) == OPSET
    assert model.graph.input[0].name == "pixel_values"
    np.testing.assert_allclose(_run(exported, pixels), expected, rtol=0, atol=EXPORT_ATOL)


def test_o2_fuses_nodes_and_keeps_logits(exported: Path, pixels: np.ndarray,
                                         expected: np.ndarray, tmp_path: Path) -> None:
    from compbench.compression.optimum_ort import optimize_folder

    optimized = optimize_folder(exported, "O2", tmp_path / "o2")
    plain, fused = _op_types(exported), _op_types(optimized)
    assert sum(fused.values()) < sum(plain.values())
    assert fused["SkipLayerNormalization"] > 0  # a transformer-specific (contrib op) fusion
    np.testing.assert_allclose(_run(optimized, pixels), expected, rtol=0, atol=EXPORT_ATOL)


def test_dynamic_int8_has_integer_ops(exported: Path, pixels: np.ndarray, tmp_path: Path) -> None:
    from compbench.compression.optimum_ort import quantize_dynamic_folder

    quantized = quantize_dynamic_folder(exported, tmp_path / "dynamic")
    ops = _op_types(quantized)
    assert ops["MatMulInteger"] > 0 and ops["DynamicQuantizeLinear"] > 0
    assert ops["MatMul"] == 0  # every MatMul was quantized
    out = _run(quantized, pixels)
    assert out.shape == (len(pixels), 10) and np.isfinite(out).all()


def test_fix_batch_pins_the_batch_axis(exported: Path, pixels: np.ndarray,
                                       tmp_path: Path) -> None:
    from compbench.compression.optimum_ort import fix_batch, quantize_dynamic_folder

    pinned = fix_batch(quantize_dynamic_folder(exported, tmp_path / "dynamic"), 1)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(pinned), options, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == 1 and session.get_outputs()[0].shape[0] == 1
    assert session.run(None, {"pixel_values": pixels[:1]})[0].shape == (1, 10)


def test_static_int8_is_qdq_with_int8_weights(exported: Path, pixels: np.ndarray,
                                              tmp_path: Path) -> None:
    from compbench.compression.optimum_ort import quantize_static_folder

    calibration = [pixels[i:i + 1] for i in range(len(pixels))]
    cwd = sorted(Path.cwd().iterdir())
    quantized = quantize_static_folder(exported, calibration, tmp_path / "static")
    assert sorted(Path.cwd().iterdir()) == cwd  # no augmented_model.onnx left in the cwd
    ops = _op_types(quantized)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0
    int8 = [t for t in onnx.load(str(quantized)).graph.initializer
            if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2]
    assert int8, "QDQ weights are stored as int8 initializers"
    out = _run(quantized, pixels)
    assert out.shape == (len(pixels), 10) and np.isfinite(out).all()


def test_openvino_export_and_int8(tiny_vit: CifarVit, pixels: np.ndarray,
                                         expected: np.ndarray, tmp_path: Path) -> None:
    pytest.importorskip("optimum.intel")
    pytest.importorskip("nncf")
    import openvino as ov

    from compbench.compression.optimum_openvino import export_ov, quantize_ov

    model = export_ov(tiny_vit, tmp_path)
    fp32 = ov.Core().compile_model(model.model, "CPU", {"INFERENCE_NUM_THREADS": 1,
                                                        "INFERENCE_PRECISION_HINT": "f32"})
    np.testing.assert_allclose(np.concatenate([
        np.asarray(fp32({0: pixels[i:i + 1]})[fp32.outputs[0]]) for i in range(len(pixels))]),
        expected, rtol=0, atol=EXPORT_ATOL)  # the fp32 IR: CIFAR order, same logits as torch
    xml = quantize_ov(model, [pixels[i:i + 1] for i in range(len(pixels))], tmp_path / "int8")
    graph = ov.Core().read_model(str(xml))
    assert any(op.get_type_name() == "FakeQuantize" for op in graph.get_ops())
    compiled = ov.Core().compile_model(graph, "CPU", {"INFERENCE_NUM_THREADS": 1})
    out = np.concatenate([np.asarray(compiled({0: pixels[i:i + 1]})[compiled.outputs[0]])
                          for i in range(len(pixels))])
    assert out.shape == expected.shape and np.isfinite(out).all()
