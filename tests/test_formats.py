"""The conversion graph is derived from the edge modules: routes, the convert step's dispatch
and the variants' conversion requirements all follow from ``formats/<a>_to_<b>.py`` alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.dependencies import normalize_name
from compbench.extras import extras_of_distributions
from compbench.formats.artifacts import FILENAMES, Artifact
from compbench.formats.routes import (
    EDGE_NAME,
    BadEdge,
    NoRoute,
    convert_step,
    direct_edge,
    edges,
    requirements,
    route,
)
from compbench.settings import REPO_ROOT

FORMATS_DIR = REPO_ROOT / "formats"


def test_torch_reaches_openvino_through_onnx():
    assert route("torch", "openvino") == ["onnx", "openvino"]


def test_keras_reaches_openvino_directly():
    assert route("keras", "openvino") == ["openvino"]


def test_same_format_needs_no_conversion():
    assert route("onnx", "onnx") == []


def test_unknown_pair_names_both_formats_and_the_fix():
    with pytest.raises(ValueError) as info:
        route("tflite", "torch")
    message = str(info.value)
    assert "tflite" in message and "torch" in message
    assert "remove that engine" in message and "row" in message


def test_unknown_format_says_so():
    with pytest.raises(NoRoute, match="'safetensors' is no known format"):
        route("torch", "safetensors")


def test_every_edge_module_is_discovered_and_named_after_its_declaration():
    files = {p.stem for p in FORMATS_DIR.glob("*.py") if EDGE_NAME.match(p.stem)}
    found = edges()
    assert {edge.module for edge in found.values()} == {f"compbench.formats.{name}" for name in files}
    for (source, target), edge in found.items():
        assert edge.module == f"compbench.formats.{source}_to_{target}"


def test_edges_only_use_known_formats():
    for source, target in edges():
        assert source in FILENAMES and target in FILENAMES


def test_edge_requirements_are_distributions_an_extra_installs():
    """Names as pyproject spells them, so the declared-requirements check can map them."""
    installed_by_extra = extras_of_distributions()
    for edge in edges().values():
        assert edge.requires, edge.module
        for name in edge.requires:
            assert normalize_name(name) in installed_by_extra, (edge.module, name)


def test_conversion_requirements_follow_the_route():
    assert requirements("torch", "openvino") == ("torch", "onnx", "openvino")
    assert "onnx" not in requirements("keras", "openvino")
    assert requirements("keras", "keras") == ()


def test_variant_requirements_include_the_routes_edges():
    from compbench.runner.matrix import get_variant

    assert "onnx" in get_variant("scrfd_500m_kps/fp32/openvino").requires
    assert "openvino" in get_variant("scrfd_500m_kps/fp32/openvino").requires
    assert "onnx" not in get_variant("resnet8/fp32/openvino").requires
    assert "onnx" not in get_variant("scrfd_500m_kps/fp32/torchscript").requires


def test_discovering_edges_imports_no_framework():
    code = ("import sys\n"
            "from compbench.formats.routes import edges, route\n"
            "edges(); route('torch', 'openvino'); route('keras', 'tflite')\n"
            "print(sorted(m for m in ('torch', 'onnx', 'openvino', 'tensorflow', 'tf_keras')"
            " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_direct_edge_is_the_module_and_only_direct():
    assert direct_edge("torch", "onnx").module == "compbench.formats.torch_to_onnx"
    with pytest.raises(NoRoute, match="no direct conversion from torch to openvino"):
        direct_edge("torch", "openvino")


def test_convert_step_dispatches_to_the_edge_module(tmp_path):
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    torch.save(module, tmp_path / FILENAMES["torch"])
    out = tmp_path / "out"
    out.mkdir()
    converted = convert_step(Artifact("torch", tmp_path / FILENAMES["torch"]), "torchscript", out,
                             (1, 3, 8, 8))
    assert converted == Artifact("torchscript", out / FILENAMES["torchscript"])
    example = torch.zeros(1, 3, 8, 8)
    assert torch.equal(torch.jit.load(str(converted.path))(example), module(example))


# -- a copy of the package: adding a file is all an edge needs ---------------------------------

def _copy(tmp_path: Path, monkeypatch, name: str) -> Path:
    package = tmp_path / name
    shutil.copytree(FORMATS_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def _edge(source: str, target: str, requires: tuple[str, ...] = ("onnx",)) -> str:
    return (f"SOURCE = {source!r}\nTARGET = {target!r}\nREQUIRES = {requires!r}\n\n"
            "def convert(source, target, input_shape, dynamic_batch=False):\n"
            "    import onnx  # noqa: F401\n")


def test_a_new_edge_module_is_picked_up(tmp_path, monkeypatch):
    package = _copy(tmp_path, monkeypatch, "formats_with_new_edge")
    (package / "tflite_to_onnx.py").write_text(_edge("tflite", "onnx"))
    assert ("tflite", "onnx") in edges("formats_with_new_edge")
    assert route("keras", "onnx", "formats_with_new_edge") == ["tflite", "onnx"]
    assert requirements("keras", "onnx", "formats_with_new_edge") == (
        "tensorflow", "tf_keras", "onnx")
    with pytest.raises(NoRoute):  # the real package is unchanged
        route("keras", "onnx")


def test_ties_go_to_the_alphabetically_first_intermediate(tmp_path, monkeypatch):
    package = _copy(tmp_path, monkeypatch, "formats_with_tie")
    (package / "tflite_to_onnx.py").write_text(_edge("tflite", "onnx"))
    (package / "openvino_to_onnx.py").write_text(_edge("openvino", "onnx"))
    assert route("keras", "onnx", "formats_with_tie") == ["openvino", "onnx"]


@pytest.mark.parametrize("file, text, complaint", [
    ("tflite_to_onnx.py", _edge("tflite", "openvino"), "must agree"),
    ("tflite_to_onnx.py", "def convert(*args):\n    pass\n", "lacks SOURCE, TARGET, REQUIRES"),
    ("tflite_to_safetensors.py", _edge("tflite", "safetensors"), "unknown format"),
    ("tflite2onnx.py", _edge("tflite", "onnx"), "rename it to tflite_to_onnx.py"),
])
def test_a_malformed_edge_is_an_error_not_ignored(tmp_path, monkeypatch, file, text, complaint):
    name = f"formats_bad_{Path(file).stem}_{complaint.split()[0]}"
    package = _copy(tmp_path, monkeypatch, name)
    (package / file).write_text(text)
    with pytest.raises(BadEdge, match=complaint):
        edges(name)


def test_an_ir_does_not_carry_the_folder_it_was_converted_from(tmp_path):
    """``convert_model`` records the path it read (for a Keras model, a temporary SavedModel
    folder) inside the IR; two builds of one model in two folders must still give one digest."""
    torch = pytest.importorskip("torch")
    ov = pytest.importorskip("openvino")
    from compbench.formats.openvino_ir import CONVERSION_RECORD, save_ir
    from compbench.formats.torch_to_onnx import convert as to_onnx

    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), tmp_path / "m.pt")
    to_onnx(tmp_path / "m.pt", tmp_path / "m.onnx", (1, 3, 8, 8))
    model = ov.convert_model(str(tmp_path / "m.onnx"))
    written = []
    for folder in ("compbench-savedmodel-a1", "compbench-savedmodel-b2"):
        model.set_rt_info(str(tmp_path / folder), [CONVERSION_RECORD, "input_model"])
        (tmp_path / folder).mkdir()
        save_ir(model, tmp_path / folder / "model.xml")
        written.append((tmp_path / folder / "model.xml").read_bytes())
    assert written[0] == written[1]
    assert b"compbench-savedmodel" not in written[0]
