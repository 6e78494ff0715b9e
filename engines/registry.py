"""Engine names → configuration; implementations are imported only when an engine is used.

That keeps ``tox -e onnxruntime`` free of torch/TensorFlow imports and turns a missing package
into one ``EngineUnavailable`` naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util

from compbench.errors import EngineUnavailable
from engines.base import Engine, EngineConfig

ENGINES: dict[str, EngineConfig] = {
    config.name: config
    for config in [
        EngineConfig("torch", "torch", "engines.torch_eager", ("torch",), "torch", None,
                     "PyTorch eager, inference_mode"),
        EngineConfig("torchscript", "torchscript", "engines.torchscript", ("torch",), "torch", None,
                     "TorchScript (scripted, frozen)"),
        EngineConfig("onnxruntime", "onnx", "engines.onnxruntime_cpu", ("onnxruntime",), "onnx",
                     None, "onnxruntime CPU EP, all cores"),
        EngineConfig("onnxruntime-1t", "onnx", "engines.onnxruntime_cpu", ("onnxruntime",), "onnx",
                     1, "onnxruntime CPU EP, one intra-op thread"),
        EngineConfig("openvino", "openvino", "engines.openvino_cpu", ("openvino",), "openvino",
                     None, "OpenVINO CPU plugin, latency hint, f32 precision hint"),
        EngineConfig("keras", "keras", "engines.keras_tf", ("tensorflow", "tf_keras"), "tf", None,
                     "TensorFlow, tf_keras model traced once with tf.function"),
        EngineConfig("tflite", "tflite", "engines.tflite", ("tensorflow",), "tf", None,
                     "TFLite interpreter (XNNPACK delegate for float models)"),
    ]
}


# Import name (top-level package) → the pyproject extra that installs it, so that a skip says
# exactly what to install rather than the whole ``[all]`` stack (4 GB with TensorFlow).
EXTRA_OF = {"torch": "torch", "torchao": "torch", "onnx": "onnx", "onnxruntime": "onnx",
            "onnxscript": "onnx", "openvino": "openvino", "nncf": "openvino",
            "tensorflow": "tf", "tf_keras": "tf", "tensorflow_model_optimization": "tf",
            "transformers": "hf", "optimum": "hf"}

TOX_ENVS = {"torch": "torch", "onnx": "onnxruntime", "openvino": "openvino"}  # extra → tox.ini env


def extras_for(packages: list[str] | tuple[str, ...]) -> list[str]:
    """The pyproject extras that install ``packages`` (import names, dotted ones too)."""
    return sorted({EXTRA_OF.get(p.partition(".")[0], "all") for p in packages})


def engine_config(name: str) -> EngineConfig:
    try:
        return ENGINES[name]
    except KeyError:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(ENGINES)}") from None


def missing_packages(config_or_packages: EngineConfig | tuple[str, ...]) -> list[str]:
    packages = (config_or_packages.packages if isinstance(config_or_packages, EngineConfig)
                else config_or_packages)
    return [p for p in packages if not _importable(p)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is absent
        return False


def get_engine(name: str) -> Engine:
    return load_engine(engine_config(name))


def load_engine(config: EngineConfig) -> Engine:
    missing = missing_packages(config)
    if missing:
        hint = f" (or run `tox -e {TOX_ENVS[config.extra]}`)" if config.extra in TOX_ENVS else ""
        raise EngineUnavailable(
            f"engine {config.name!r} needs the Python package(s) {', '.join(missing)}, which are not "
            f"installed. Install them with: pip install -e '.[{config.extra}]' "
            f"-c constraints/known-good.txt{hint}.")
    module = importlib.import_module(config.module)
    return module.create(config)
