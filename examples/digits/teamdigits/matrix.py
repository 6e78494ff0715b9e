"""What this project benchmarks, declared through compbench's hook (named in pyproject.toml)."""

from __future__ import annotations

from compbench.runner.hookspec import hookimpl
from compbench.specs import ModelSpec, Row


@hookimpl
def compbench_declare(matrix) -> None:
    matrix.add_model(ModelSpec(
        name="digits_cnn",
        task="teamdigits.task:TASK",
        source="teamdigits.model:fp32_model",
        weights=(),                       # trained from the code and the data: nothing stored
        input_shape=(1, 1, 8, 8),
        reference_engine="torch",
        description="8x8 handwritten digits CNN (this team's), top-1",
    ))
    matrix.add_row(Row(
        model="digits_cnn", compression="fp32", recipe="compression.fp32:fp32",
        engines=("torch", "onnxruntime", "openvino"), description="unmodified weights",
    ))
    # compbench's generic recipes, reused as they are
    matrix.add_row(Row(
        model="digits_cnn", compression="int8-ort", recipe="compression.int8_ort:int8_ort",
        engines=("onnxruntime",), description="onnxruntime static int8, QDQ",
        requires=("onnxruntime",), cpu_dependent_accuracy=True,
    ))
    matrix.add_row(Row(
        model="digits_cnn", compression="int8-nncf", recipe="compression.int8_nncf:int8_nncf",
        engines=("openvino",), description="NNCF post-training int8 of the OpenVINO model",
        requires=("nncf",), cpu_dependent_accuracy=True,
    ))
    # this team's own recipe (teamdigits/recipes.py): editing it rebuilds this row only
    matrix.add_row(Row(
        model="digits_cnn", compression="sparse-30",
        recipe="teamdigits.recipes:magnitude_sparsity", params={"sparsity": 0.3},
        engines=("torch", "onnxruntime"), description="30 % of the weights zeroed by magnitude",
    ))
