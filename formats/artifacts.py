"""A built model on disk in one format; ``FILENAMES`` is the one list of formats.

Recipes emit an artifact in their natural format (a torch module, a QDQ ONNX file, an OpenVINO
IR); each engine consumes one format. The conversions between formats live one per module
(``formats/<source>_to_<target>.py``, chained by ``compbench.formats.routes``), so a recipe is written
once and runs on every engine its table row names. Kept apart from the routing so that a recipe,
which only needs ``Artifact``, does not depend on (and get rebuilt for) the conversion graph.
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


def artifact_in(directory: Path, fmt: str) -> Artifact:
    return Artifact(fmt, directory / FILENAMES[fmt])

