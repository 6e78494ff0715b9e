"""The one interface every engine implements: load an artifact file, run a batch of inputs.

Thread counts are explicit and part of the engine's identity (``onnxruntime`` and
``onnxruntime-1t`` are two engines), because on a shared 2-core machine an unpinned engine
measures the neighbours as much as the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compbench.hardware import available_cores


@dataclass(frozen=True)
class EngineSpec:
    """Everything the suite knows about one engine, declared in the engine's own module
    (``ENGINES = (EngineSpec(...),)``) and nowhere else; ``compbench.engines.registry`` collects them."""

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
    def key(self) -> str:
        """The module as the cache's evaluation keys and ci/durations.json's step names write it:
        as before the one installed namespace (no ``compbench.``), so that what was evaluated
        and timed before the rename still counts."""
        return self.module.removeprefix("compbench.")

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

    def census(self) -> dict[str, int | float]:
        """What this session really executes (docs/compression-census.md): int8 and float
        convolutions and matmuls counted in the graph the engine built, and the conv kernels'
        structure (``kernel_census``). A compression that silently stopped applying (a float
        fallback, a lost quantization or pruning) changes these numbers while the model still
        runs. Empty: the engine cannot tell, and bench/test_census.py says so."""
        return {}


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


def op_census(int8_convs: int, float_convs: int, int8_matmuls: int,
              float_matmuls: int) -> dict[str, int]:
    """The executed-graph half of a census, with the same names on every engine."""
    return {"int8_convs": int8_convs, "float_convs": float_convs,
            "int8_matmuls": int8_matmuls, "float_matmuls": float_matmuls}


def kernel_census(kernels: Iterable[np.ndarray]) -> dict[str, int | float]:
    """The structural half of a census over the conv kernels, each with its output channels
    on axis 0: what sparsity (zeros), channel pruning (fewer output channels) and weight
    clustering (few distinct values per kernel) leave behind, whatever runs them."""
    zeros = total = channels = max_distinct = 0
    for kernel in kernels:
        kernel = np.asarray(kernel)
        zeros += int(np.count_nonzero(kernel == 0))
        total += kernel.size
        channels += int(kernel.shape[0]) if kernel.ndim else 0
        max_distinct = max(max_distinct, int(np.unique(kernel).size))
    return {"zero_fraction": round(zeros / total, 6) if total else 0.0,
            "conv_channels": channels, "max_distinct_per_kernel": max_distinct}
