"""Fingerprints that make cache keys honest: data content, code source, library versions."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Import name → the distributions whose upgrade can change what it builds or computes. A cache
# key holds only the versions behind the imports that step uses, so an environment with fewer
# packages (``tox -e onnxruntime``) shares the builds of the full one instead of redoing them.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "torchao"), "onnx": ("onnx",), "onnxruntime": ("onnxruntime",),
    "openvino": ("openvino",), "nncf": ("nncf",), "tensorflow": ("tensorflow",),
    "tf_keras": ("tf_keras",), "tensorflow_model_optimization": ("tensorflow-model-optimization",),
    "transformers": ("transformers",), "optimum": ("optimum", "optimum-onnx", "optimum-intel"),
}
# Image decoding and array maths: behind every build and every evaluation.
ALWAYS = ("numpy", "opencv-python-headless", "pillow")


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """sha256 over names and contents, in sorted order, so renaming or editing any file shows."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root else path.name
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_fingerprint(modules: Iterable[str]) -> str:
    """Digest of the source of modules (a package counts all its .py files)."""
    paths: set[Path] = set()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(name)
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            paths.update(origin.parent.rglob("*.py"))
        else:
            paths.add(origin)
    return files_digest(paths)


def recipe_modules(module: str) -> list[str]:
    """The recipe module plus the ``compression.*`` helpers it imports, transitively: editing a
    shared training loop must rebuild every recipe that uses it, and only those."""
    found: list[str] = []
    pending = [module]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.append(name)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(name)
        source = Path(spec.origin).read_text(encoding="utf-8")
        pending += re.findall(r"^\s*from (compression\.\w+) import", source, flags=re.M)
    return found


def library_versions(imports: Iterable[str] | None = None) -> dict[str, str]:
    """Installed versions of ``ALWAYS`` plus the distributions behind ``imports`` (import names,
    dotted ones too); ``None``: every known distribution (for provenance)."""
    if imports is None:
        names = [d for group in DISTRIBUTIONS.values() for d in group]
    else:
        names = [d for name in imports for d in DISTRIBUTIONS.get(name.partition(".")[0], ())]
    found = {}
    for name in sorted({*ALWAYS, *names}):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
