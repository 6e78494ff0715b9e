"""A declaration with a wrong field is one message naming the model or row and the field, when
the matrix is built — before anything is built or downloaded into the cache."""

from __future__ import annotations

import pytest

from compbench.bench.suite import MATRIX, MODELS, expand
from compbench.specs import ModelSpec, Row, SpecError

ROW = {"model": "resnet20", "compression": "int8-x", "recipe": "compression.int8_ort:int8_ort",
       "engines": ("onnxruntime",)}
MODEL = {"name": "m", "task": "cifar10", "source": "models.cifar.sources:resnet20",
         "weights": ("w.th",), "input_shape": (1, 3, 32, 32), "reference_engine": "torch",
         "description": "d"}


def test_fields_are_keywords_only():
    with pytest.raises(TypeError, match="positional"):
        Row("resnet20", "int8-x", "compression.int8_ort:int8_ort", ("onnxruntime",))


@pytest.mark.parametrize("field, value, complaint", [
    ("engines", "onnxruntime", r"engines='onnxruntime' is not a tuple of names .*\('onnxruntime',\)"),
    ("engines", (), r"engines=\(\) is not a tuple of names \(at least one\)"),
    ("recipe", "compbench.compression.int8_ort.int8_ort", "recipe=.* is not a 'package.module:function'"),
    ("compression", "int8/x", "compression='int8/x' is not a name"),
    ("requires", ("onnxruntime", ""), "requires=.* is not a tuple of names"),
    ("cpu_dependent_accuracy", "yes", "cpu_dependent_accuracy='yes' is not True or False"),
    ("params", 0.5, "params=0.5 is not a mapping"),
])
def test_a_wrong_row_field_names_the_row_and_the_field(field, value, complaint):
    with pytest.raises(SpecError, match=complaint) as raised:
        Row(**{**ROW, field: value})
    compression = value if field == "compression" else ROW["compression"]
    assert str(raised.value).startswith(f"row resnet20/{compression}: {field}=")


@pytest.mark.parametrize("field, value, complaint", [
    ("input_shape", (1, 3, 0, 32), "input_shape=.* is not a tuple of positive integers"),
    ("weights", "w.th", r"weights='w.th' is not a tuple of names .*\('w.th',\)"),
    ("eval_batch", 0, "eval_batch=0 is not a positive integer"),
    ("source", "models/cifar/sources.py", "source=.* is not a 'package.module:function'"),
    ("preprocess", "resnet20_preprocessor", "preprocess=.* is not a 'package.module:function'"),
])
def test_a_wrong_model_field_names_the_model_and_the_field(field, value, complaint):
    with pytest.raises(SpecError, match=complaint) as raised:
        ModelSpec(**{**MODEL, field: value})
    assert str(raised.value).startswith("model 'm': ")


def test_lists_are_taken_as_tuples():
    row = Row(**{**ROW, "engines": ["onnxruntime", "openvino"], "requires": ["onnxruntime"]})
    assert row.engines == ("onnxruntime", "openvino") and row.requires == ("onnxruntime",)
    assert hash(row) == hash(Row(**{**ROW, "engines": ("onnxruntime", "openvino"),
                                    "requires": ("onnxruntime",)}))


@pytest.mark.parametrize("row, complaint", [
    ({**ROW, "model": "resnet21"}, "row resnet21/int8-x: model='resnet21' is not a declared model"),
    ({**ROW, "engines": ("onnxruntime", "openvno")},
     "row resnet20/int8-x: engines: unknown engine 'openvno'"),
])
def test_a_row_naming_an_undeclared_model_or_engine_fails_when_the_matrix_is_built(row, complaint):
    assert "resnet21" not in MODELS
    with pytest.raises(SpecError, match=complaint):
        expand([*MATRIX, Row(**row)])


def test_a_wrong_row_in_the_matrix_ends_pytest_with_one_message(tmp_path):
    """What a user who edits ``bench/suite.py`` sees: a usage error, not an import traceback."""
    import subprocess
    import sys

    from compbench.settings import REPO_ROOT

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    copy = tmp_path / "project"
    for name in tracked:   # 6 MB
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((REPO_ROOT / name).read_bytes())
    matrix = copy / "bench" / "suite.py"
    text = matrix.read_text()
    assert text.count("engines=FP32_ENGINES,") > 1
    matrix.write_text(text.replace("engines=FP32_ENGINES,", 'engines="torch",', 1))
    done = subprocess.run([sys.executable, "-m", "pytest", "bench", "--co", "-q", "-p", "no:randomly"],
                          cwd=copy, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert "ERROR: compbench: row scrfd_500m_kps/fp32: engines='torch' is not a tuple" in output
    assert "Traceback" not in output and "ImportError" not in output
