"""What the pipeline needs from a task: inputs to time, inputs to calibrate on, a scorer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from compbench.errors import NonFiniteOutput

RunFn = Callable[[np.ndarray], Sequence[np.ndarray]]


def checked(run: RunFn, label: str) -> RunFn:
    """Wrap an engine call so NaN/inf outputs stop the evaluation with the variant's name.

    Used for validation only, never inside the timed loop.
    """

    def wrapper(inputs: np.ndarray) -> Sequence[np.ndarray]:
        outputs = run(inputs)
        for index, output in enumerate(outputs):
            if not np.isfinite(output).all():
                raise NonFiniteOutput(
                    f"{label}: output {index} contains NaN or infinity. The artifact is broken "
                    "(e.g. a bad calibration or export); delete its cache entry and rebuild, "
                    "or fix the recipe.")
        return outputs

    return wrapper


class Task(ABC):
    name: str
    metrics: tuple[str, ...]
    data_description: str

    @abstractmethod
    def fingerprint(self) -> dict:
        """Identity of the evaluation data and settings (part of accuracy cache keys)."""

    @abstractmethod
    def calibration_fingerprint(self) -> dict:
        """Identity of the calibration/training data (part of artifact cache keys)."""

    @abstractmethod
    def sample_input(self) -> np.ndarray:
        """One real, preprocessed batch-1 input: what the latency benchmark feeds."""

    @property
    @abstractmethod
    def calibration_size(self) -> int:
        """How many calibration inputs ``calibration_inputs`` yields (for progress bars)."""

    @abstractmethod
    def calibration_inputs(self) -> Iterator[np.ndarray]:
        """Preprocessed batch-1 inputs from the calibration split (never the eval images)."""

    @abstractmethod
    def evaluate(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, float]:
        """Accuracy metrics (keys ``metrics``) of ``run`` on the evaluation data, feeding
        ``batch_size`` inputs per call where the task can (the metric does not depend on it)."""
