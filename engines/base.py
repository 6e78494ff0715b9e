"""The one interface every engine implements: load an artifact file, run a batch of inputs.

Thread counts are explicit and part of the engine's identity (``onnxruntime`` and
``onnxruntime-1t`` are two engines), because on a shared 2-core machine an unpinned engine
measures the neighbours as much as the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compbench.hardware import available_cores


@dataclass(frozen=True)
class EngineSpec:
    """Everything the suite knows about one engine, declared in the engine's own module
    (``ENGINES = (EngineSpec(...),)``) and nowhere else; ``engines.registry`` collects them."""

    name: str
    artifact_format: str       # what ``load`` accepts: torch | torchscript | onnx | openvino | ...
    requires: tuple[str, ...]  # distributions (pyproject names) it runs on; extras derive from them
    family: str                # the tox env that runs it (``tox -e <family>``, --engine-family)
    description: str
    threads: int | None = None  # None: all available cores, resolved at run time
    # max |this engine - torch eager| over the fp32 SCRFD artifact's raw outputs
    # (tests/test_engines.py); None: it does not run torch-exported models
    output_tolerance: float | None = None
    module: str = ""           # filled in by the registry: the module that declared it

    @property
    def resolved_threads(self) -> int:
        return self.threads if self.threads is not None else available_cores()


class Session(ABC):
    """A loaded artifact ready to run; ``run`` is what the latency benchmark times."""

    @abstractmethod
    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        """Map one NCHW (or NHWC, per model) float32 batch to the model's raw outputs."""

    def accepts_batch(self, size: int) -> bool:
        """Whether ``run`` takes ``size`` inputs at once (fixed-shape graphs only take their own);
        evaluation uses it to batch, latency is always timed at batch 1."""
        return True


class Engine(ABC):
    def __init__(self, config: EngineSpec):
        self.config = config
        self.threads = config.resolved_threads

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def load(self, artifact: Path) -> Session:
        """Load an artifact file of ``config.artifact_format``."""
