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

    @property
    def gzip_size_bytes(self) -> int:
        """Compressed size, as the TF Model Optimization guide reports it: zeros from pruning
        and shared values from clustering only pay off once the file is compressed."""
        return sum(_gzip_size(p) for p in self.files)


_GZIP_SIZES: dict[tuple[str, int, int], int] = {}


def _gzip_size(path: Path) -> int:
    """Once per file and process: the rows of one artifact on several engines (torch and
    torch-compile, onnxruntime at two thread counts) share its files, and level 9 is slow on
    the long runs of zeros of a sparse model."""
    import gzip

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _GZIP_SIZES:
        _GZIP_SIZES[key] = len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
    return _GZIP_SIZES[key]


def artifact_in(directory: Path, fmt: str) -> Artifact:
    return Artifact(fmt, directory / FILENAMES[fmt])

