"""A built model on disk in one format, and the conversions between formats.

Recipes emit an artifact in their natural format (a torch module, a QDQ ONNX file, an OpenVINO
IR); each engine consumes one format. ``convert`` bridges the two along the few edges that
exist (torch → torchscript, torch → onnx → openvino), so a recipe is written once and runs on
every engine its table row names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FILENAMES = {
    "torch": "model.pt",
    "torchscript": "model.torchscript.pt",
    "onnx": "model.onnx",
    "openvino": "model.xml",
    "keras": "model.h5",
    "tflite": "model.tflite",
}


@dataclass(frozen=True)
class Artifact:
    format: str
    path: Path

    @property
    def files(self) -> list[Path]:
        """Every file the engine needs (an OpenVINO IR is .xml + .bin); cache metadata excluded."""
        return sorted(p for p in self.path.parent.iterdir()
                      if p.is_file() and p.name != "meta.json" and not p.name.startswith("."))

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    @property
    def gzip_size_bytes(self) -> int:
        """Compressed size, as the TF Model Optimization guide reports it: zeros from pruning
        and shared values from clustering only pay off once the file is compressed."""
        import gzip

        return sum(len(gzip.compress(p.read_bytes(), compresslevel=9, mtime=0))
                   for p in self.files)


def artifact_in(directory: Path, fmt: str) -> Artifact:
    return Artifact(fmt, directory / FILENAMES[fmt])


# Conversion edges: (from, to) -> the intermediate format to go through, or None when direct.
ROUTES: dict[tuple[str, str], str | None] = {
    ("torch", "torchscript"): None,
    ("torch", "onnx"): None,
    ("onnx", "openvino"): None,
    ("torch", "openvino"): "onnx",
    ("keras", "tflite"): None,
    ("keras", "openvino"): None,
}


def route(source: str, target: str) -> list[str]:
    """Formats to produce, in order, to get from ``source`` to ``target`` (empty when equal)."""
    if source == target:
        return []
    if (source, target) not in ROUTES:
        raise ValueError(f"no conversion from {source} to {target}; "
                         "remove that engine from the variant's table row")
    via = ROUTES[(source, target)]
    return [*route(source, via), target] if via else [target]


def convert_step(source: Artifact, target_format: str, out_dir: Path,
                 input_shape: tuple[int, ...], dynamic_batch: bool = False) -> Artifact:
    """One direct conversion; heavy libraries are imported only for the edge that needs them."""
    target = artifact_in(out_dir, target_format)
    if (source.format, target_format) == ("torch", "torchscript"):
        from formats.torch_to_torchscript import convert
    elif (source.format, target_format) == ("torch", "onnx"):
        from formats.torch_to_onnx import convert
    elif (source.format, target_format) == ("onnx", "openvino"):
        from formats.onnx_to_openvino import convert
    elif (source.format, target_format) == ("keras", "tflite"):
        from formats.keras_to_tflite import convert
    elif (source.format, target_format) == ("keras", "openvino"):
        from formats.keras_to_openvino import convert
    else:
        raise ValueError(f"no direct conversion from {source.format} to {target_format}")
    convert(source.path, target.path, input_shape, dynamic_batch)
    return target
