"""The Keras CIFAR-10 track: engines agree on fp32 ResNet-8, and each tfmot/TFLite recipe does
what its name says (16 shared values, 50 % zeros, int8 probabilities), on quick runs.

Real CIFAR-10 test images, no train split (decoding it cold takes a minute): the recipe checks
fine-tune a few steps on test images, which is fine since no accuracy is measured there, and
int8 calibration uses test images disjoint from the ones it is scored on.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: tfmot needs tf_keras

from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras")

from compbench.bench.suite import MODELS  # noqa: E402
from compbench.engines.registry import get_engine  # noqa: E402
from compbench.evaluation.cifar10 import CifarSplit, load_cifar10  # noqa: E402
from compbench.formats.artifacts import artifact_in  # noqa: E402
from compbench.models.cifar.keras_models import resnet8_preprocess  # noqa: E402

RESNET8 = "cifar10/models/mlperf_tiny_resnet8.h5"
RESNET8_INT8_REFERENCE = "cifar10/models/mlperf_tiny_resnet8_int8.tflite"
# max |engine - keras| over ResNet-8's softmax probabilities (observed ~3e-6 for both): XNNPACK
# and oneDNN reorder float sums, nothing that could move a top-1 decision.
FP32_TOLERANCE = {"tflite": 1e-4, "openvino": 1e-4}


@pytest.fixture(scope="module")
def test_split(asset_file) -> CifarSplit:
    return load_cifar10(asset_file("cifar10/test.zip").parent.parent, "test")


@pytest.fixture(scope="module")
def resnet8_h5(asset_file):
    return asset_file(RESNET8)


@pytest.fixture(scope="module")
def few_images(test_split) -> CifarSplit:
    """32 class-mixed test images (the zip is sorted by class: take a regular stride)."""
    return test_split.subset(slice(0, 10_000, 10_000 // 32))


def run_all(session, images: np.ndarray) -> np.ndarray:
    """Batch-1 calls, as the evaluation feeds them."""
    return np.concatenate([session.run(resnet8_preprocess(images[i:i + 1]))[0]
                           for i in range(len(images))])


@pytest.fixture(scope="module")
def keras_outputs(resnet8_h5, few_images):
    return run_all(get_engine("keras").load(resnet8_h5), few_images.images)


@pytest.mark.parametrize("engine", ["tflite", "openvino"])
def test_fp32_engines_match_keras(engine, resnet8_h5, few_images, keras_outputs, tmp_path):
    if engine == "openvino":
        pytest.importorskip("openvino")
        from compbench.formats.keras_to_openvino import convert
    else:
        from compbench.formats.keras_to_tflite import convert
    target = artifact_in(tmp_path, engine)
    convert(resnet8_h5, target.path, MODELS["resnet8"].input_shape)
    outputs = run_all(get_engine(engine).load(target.path), few_images.images)
    assert outputs.shape == keras_outputs.shape == (len(few_images), 10)
    assert np.abs(outputs - keras_outputs).max() <= FP32_TOLERANCE[engine]
    assert (outputs.argmax(1) == keras_outputs.argmax(1)).all()


def test_keras_outputs_are_resnet8_probabilities(keras_outputs, few_images):
    np.testing.assert_allclose(keras_outputs.sum(axis=1), 1.0, atol=1e-5)
    assert (keras_outputs.argmax(1) == few_images.labels).mean() >= 0.5  # ~77 % on all 10 000


def test_output_kind_is_read_from_the_last_layer(resnet8_h5):
    from compbench.compression.keras_finetune import outputs_probabilities
    from compbench.models.cifar.keras_models import build_mobilenetv2, load_resnet8

    assert outputs_probabilities(load_resnet8(resnet8_h5))
    assert not outputs_probabilities(build_mobilenetv2())


def test_int8_tflite_matches_the_mlperf_reference(resnet8_h5, test_split, asset_file, tmp_path):
    """Our full-integer PTQ: int8 in/out, dequantized probabilities summing to ~1, and top-1
    within 3 points of the MLPerf Tiny int8 model on the same 500 images."""
    from compbench.compression.int8_tflite import quantize
    from compbench.models.cifar.keras_models import load_resnet8

    calibration = test_split.images[5::100]          # 100 images, disjoint from the scored ones
    scored = test_split.subset(slice(0, 10_000, 20))  # 500 images
    path = tmp_path / "model.tflite"
    path.write_bytes(quantize(load_resnet8(resnet8_h5),
                              lambda: (resnet8_preprocess(calibration[i:i + 1])
                                       for i in range(len(calibration)))))
    session = get_engine("tflite").load(path)
    assert session.input["dtype"] == np.int8
    assert all(output["dtype"] == np.int8 for output in session.outputs)
    ours = run_all(session, scored.images)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=0.05)  # 1/256 steps per class
    assert ours.min() >= 0.0
    reference = run_all(get_engine("tflite").load(asset_file(RESNET8_INT8_REFERENCE)),
                        scored.images)
    ours_top1 = (ours.argmax(1) == scored.labels).mean()
    reference_top1 = (reference.argmax(1) == scored.labels).mean()
    assert abs(ours_top1 - reference_top1) <= 0.03, (ours_top1, reference_top1)


@pytest.fixture
def quick_ctx(assets, resnet8_h5, test_split, tmp_path):
    """A recipe context whose "train" split is 256 test images (the recipes only fine-tune)."""
    pytest.importorskip("tensorflow_model_optimization")
    from compbench.compression.base import RecipeContext

    task = SimpleNamespace(train=test_split.subset(slice(0, 10_000, 10_000 // 256)),
                           preprocess=resnet8_preprocess)
    return RecipeContext(MODELS["resnet8"], "quick", tmp_path, task, assets, seed=0)


def saved_kernels(artifact) -> dict[str, tuple[str, np.ndarray]]:
    import tf_keras

    model = tf_keras.models.load_model(artifact.path, compile=False)
    return {layer.name: (type(layer).__name__, layer.get_weights()[0])
            for layer in model.layers if type(layer).__name__ in ("Conv2D", "Dense")}


@pytest.mark.parametrize("clusters", [16])
def test_clustering_leaves_at_most_n_values_per_kernel(quick_ctx, clusters):
    from compbench.compression.clustered import clustered

    artifact = clustered(quick_ctx, clusters=clusters, steps=4, learning_rate=1e-4)
    assert artifact.format == "keras" and artifact.path.is_file()
    kernels = saved_kernels(artifact)
    assert len(kernels) == 10  # 9 Conv2D + 1 Dense in ResNet-8
    for name, (_, kernel) in kernels.items():
        assert 2 <= len(np.unique(kernel)) <= clusters, name


def test_pruning_zeroes_half_of_each_pruned_kernel(quick_ctx):
    from compbench.compression.tfmot_pruning import pruned, schedule_steps

    assert schedule_steps(500) == (320, 16)   # ramp ends on a mask update, then a plateau
    assert schedule_steps(1) == (0, 1)        # too short for a ramp: constant sparsity
    artifact = pruned(quick_ctx, sparsity=0.5, steps=6, learning_rate=1e-3)
    kernels = saved_kernels(artifact)
    assert len(kernels) == 10
    for name, (_, kernel) in kernels.items():
        assert abs(float(np.mean(kernel == 0)) - 0.5) <= 0.01, name
