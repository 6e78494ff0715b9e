"""What the pipeline needs from a task: inputs to time, inputs to calibrate on, a scorer —
and what the rest of the suite needs to know about it without running it (``TaskDeclaration``).

A task's metrics are facts of its protocol (what AP easy means, that it is higher-is-better,
how far it moves between clean rebuilds), so the task module declares them once and the report
and the baseline gate read them from there instead of keeping their own lists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from compbench.errors import CompbenchError, NonFiniteOutput

if TYPE_CHECKING:
    from compbench.assets import Assets
    from compbench.specs import ModelSpec

RunFn = Callable[[np.ndarray], Sequence[np.ndarray]]


class UnknownTask(CompbenchError, ValueError):
    """A model names a task no module of ``tasks/`` declares (a ValueError for older callers)."""


@dataclass(frozen=True)
class Tolerance:
    """How far a value may move from its baseline, in the baseline file's own terms.

    Exactly one of ``abs`` / ``rel``, and always a ``why``: a tolerance without its measured
    reason gets widened the first time it is inconvenient.
    """
    why: str
    abs: float | None = None
    rel: float | None = None

    def __post_init__(self) -> None:
        if (self.abs is None) == (self.rel is None):
            raise ValueError(f"a tolerance needs exactly one of abs / rel ({self.why!r})")
        if (self.abs if self.abs is not None else self.rel) < 0:
            raise ValueError(f"a tolerance cannot be negative ({self.why!r})")

    def as_entry(self) -> dict:
        """The baseline file's form (``{"abs": x, "why": ...}``), kind first as the file has it."""
        kind = "abs" if self.abs is not None else "rel"
        return {kind: getattr(self, kind), "why": self.why}


@dataclass(frozen=True)
class Metric:
    """One accuracy number a task reports, with what the report and the gate need to know."""
    name: str                   # key in ``Task.evaluate``'s result and in the baseline file
    label: str                  # column header of the comparison table
    tolerance: Tolerance        # default gate on the same hardware class
    cross_hardware: Tolerance   # default gate against the nearest other class
    higher_is_better: bool = True


@dataclass(frozen=True)
class TaskDeclaration:
    """Everything known about a task before it runs. Each ``tasks/<name>.py`` sets a
    module-level ``TASK`` with ``name == <name>``, so looking one task up imports that module
    only: a step's recorded dependencies stay that task's files, not every task's.

    ``create`` builds the runnable task; the module keeps its heavy imports (protocol, data
    readers) inside the code paths that need them, so declaring costs nothing.
    """
    name: str
    metrics: tuple[Metric, ...]   # in report order
    main_metric: str              # the one number to quote for a model of this task
    assets: tuple[str, ...]       # asset paths (files and folders) the task reads
    create: Callable[[ModelSpec, Assets], Task]

    def __post_init__(self) -> None:
        names = [metric.name for metric in self.metrics]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"task {self.name!r}: metric names must be present and unique: {names}")
        if self.main_metric not in names:
            raise ValueError(f"task {self.name!r}: main metric {self.main_metric!r} is not one "
                             f"of its metrics {names}")

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(metric.name for metric in self.metrics)

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"task {self.name!r} has no metric {name!r} (it has {self.metric_names})")


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

    @property
    @abstractmethod
    def evaluation_size(self) -> int:
        """How many evaluation images ``evaluate`` reads: with its time, the images/s a user
        scales to predict a larger data set's evaluation time."""

    @abstractmethod
    def evaluate(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, float]:
        """Accuracy metrics (keys ``metrics``) of ``run`` on the evaluation data, feeding
        ``batch_size`` inputs per call where the task can (the metric does not depend on it)."""
